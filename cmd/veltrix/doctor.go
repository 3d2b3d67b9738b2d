package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/doctor"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// findingsError is returned by doctor when a finding has severity error.
type findingsError struct{ errors int }

func (e findingsError) Error() string {
	return fmt.Sprintf("doctor found %d error-severity finding(s); apply the fixes above", e.errors)
}

// doctorReport is what doctor --json prints.
type doctorReport struct {
	Findings    []doctor.Finding `json:"findings"`
	Errors      int              `json:"errors"`
	Warnings    int              `json:"warnings"`
	Infos       int              `json:"infos"`
	Cluster     bool             `json:"cluster"`      // the live checks ran
	MemoryLimit int64            `json:"memory_limit"` // bytes; 0 when unknown
}

func newDoctor() *cobra.Command {
	var asJSON bool
	var cgroupRoot, manifests string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration against the cluster, the deployment and the memory limit",
		Long: `doctor loads the configuration as the other commands do and checks the
settings against what they will meet in production, beyond what validate can
see in the settings alone:

  topic        every topic used exists (or may be created)            [live]
  partitions   partitions vs deploy.instances: idle consumers
  autoscaler   partitions vs deploy.max_instances
  timeouts     drain and handler timeouts vs the rebalance timeout
  batch        a full batch's time (simulate) vs handler and drain timeouts
  memory       buffer + fetch + producer buffer vs the memory limit
  fetch        fetch sizes × partitions vs the memory limit
  commit       crash duplicates: commit interval × deploy.expected_rate
  durability   acks, idempotence, replication and min.insync.replicas [live]
  latency      linger and batch waits vs deploy.p99_target
  retention    retention.ms/bytes vs deploy.outage_tolerance            [live]
  security     plaintext or no authentication to brokers on other machines,
               insecure_skip_verify, SASL PLAIN without TLS
  certificate  CA, client and broker certificates expired or expiring
               within 30 days                                   [broker: live]
  manifests    the Kubernetes manifests (--manifests PATH: a kustomization,
               rendered by kubectl kustomize, YAML files or one file): autoscaler maxima vs partitions, the
               processors' grace period vs shutdown_timeout + final commit

Live checks run when brokers are given (--brokers or kafka.brokers); doctor
only reads from the cluster. The memory limit is deploy.memory_limit, or
this machine's cgroup limit (cgroup v2 memory.max, v1 memory.limit_in_bytes)
when doctor runs inside the container.

Each finding has a severity (error: fix before deploying; warn: degrades
under growth or failure; info: worth knowing), the why in one sentence and
the change that fixes it as key=value (a veltrix key, or a topic config for
kafka-configs). Exit codes: 0 no error-severity finding, 3 at least one,
2 invalid configuration, 1 the cluster could not be reached.`,
		Example: `  veltrix config doctor --config configs/high-throughput.yaml
  veltrix config doctor --brokers 127.0.0.1:9092 --deploy.instances 8 --deploy.max_instances 24
  veltrix config doctor --brokers 127.0.0.1:9092 --deploy.expected_rate 50000 --deploy.p99_target 50ms --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			c := l.Config
			mem, err := doctor.ReadMemory(c.Deploy, cgroupRoot)
			if err != nil {
				return err
			}
			in := doctor.Input{Config: c, Memory: mem}
			if manifests != "" {
				if in.Manifests, err = doctor.ReadManifests(manifests); err != nil {
					return err
				}
			}
			if in.Certificates, err = doctor.ReadCertificates(c.Kafka.TLS); err != nil {
				return err
			}
			if len(c.Kafka.Brokers) > 0 {
				ctx, stop := signalContext(cmd.ErrOrStderr())
				defer stop()
				kc := c.Kafka
				kc.ClientID = c.Kafka.ClientID + "-doctor"
				cl, err := kafka.Connect(ctx, kc)
				if err != nil {
					return err
				}
				defer cl.Close()
				if in.Cluster, err = doctor.InspectConfig(ctx, cl, c); err != nil {
					return fmt.Errorf("inspecting the cluster: %w", err)
				}
				in.Certificates = append(in.Certificates, doctor.BrokerCertificates(ctx, kc)...)
			}
			fs := doctor.Run(in)
			rep := doctorReport{Findings: fs, Cluster: in.Cluster != nil, MemoryLimit: mem.Limit}
			if rep.Findings == nil {
				rep.Findings = []doctor.Finding{}
			}
			for _, f := range fs {
				switch f.Severity {
				case doctor.Error:
					rep.Errors++
				case doctor.Warn:
					rep.Warnings++
				default:
					rep.Infos++
				}
			}
			if asJSON {
				if err := json.NewEncoder(cmd.OutOrStdout()).Encode(rep); err != nil {
					return err
				}
			} else {
				printDoctor(cmd.OutOrStdout(), rep, c, mem)
			}
			if rep.Errors > 0 {
				return findingsError{errors: rep.Errors}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the findings as one JSON object")
	cmd.Flags().StringVar(&manifests, "manifests", "", "check the Kubernetes manifests at this path too: a kustomization (rendered by kubectl kustomize, e.g. deploy/kubernetes/overlays/production), a directory of YAML files, or one file")
	cmd.Flags().StringVar(&cgroupRoot, "cgroup-root", doctor.CgroupRoot, "where the cgroup file system is mounted (for tests)")
	_ = cmd.Flags().MarkHidden("cgroup-root")
	config.AddFlags(cmd.Flags(), allPrefixes)
	return cmd
}

func printDoctor(w io.Writer, rep doctorReport, c config.Config, mem doctor.Memory) {
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "%-5s  %s: %s\n", f.Severity, f.Check, f.Why)
		if f.Fix != "" {
			fmt.Fprintf(w, "       fix: %s\n", f.Fix)
		}
	}
	var ctx []string
	if rep.Cluster {
		ctx = append(ctx, "cluster "+strings.Join(c.Kafka.Brokers, ","))
	} else {
		ctx = append(ctx, "no cluster")
	}
	if mem.Limit > 0 {
		ctx = append(ctx, fmt.Sprintf("memory limit %s from %s", config.FormatBytes(mem.Limit), mem.Source))
	} else {
		ctx = append(ctx, "no memory limit")
	}
	fmt.Fprintf(w, "doctor: %d errors, %d warnings, %d notes (%d checks; %s)\n",
		rep.Errors, rep.Warnings, rep.Infos, len(doctor.Checks), strings.Join(ctx, "; "))
}
