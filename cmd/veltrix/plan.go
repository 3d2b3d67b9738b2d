package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/pipeline"
	"github.com/veltrix/veltrix/internal/plan"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// planReport is what plan --json prints.
type planReport struct {
	Instance  *plan.Measurement `json:"instance,omitempty"`  // one instance, every lane busy
	Partition *plan.Measurement `json:"partition,omitempty"` // one lane alone
	Plan      plan.Plan         `json:"plan"`
	Warnings  []string          `json:"warnings,omitempty"`
}

// noopWarning is said when plan measured the noop handler, whose numbers
// are the engine's ceiling and nothing like a real handler's.
const noopWarning = "the measured handler is noop, which drops every record: these numbers are the engine's ceiling, not what your handler will do; " +
	"measure with --handler simulate --handler.simulate.record_delay <your handler's time per record>, or give --per-instance from production"

func newPlan() *cobra.Command {
	var (
		asJSON, asYAML         bool
		ioBound, fixedParts    bool
		rate, perInst, perPart float64
		p99, measure           time.Duration
		utilisation            float64
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Measure what one instance handles and recommend partitions, instances, batch size and linger",
		Long: `plan answers "how many partitions and instances for R events/s at p99 L?".

It first measures what one processor instance handles with the configured
handler and processor.batch.* settings: it starts an embedded cluster,
produces a backlog of deploy.record_size records, and runs the real engine
over it for --measure, twice — once on topic.partitions partitions (the
instance's rate with every lane busy) and once on one partition (one lane's
rate, which bounds what each partition can carry since a lane handles its
records in order). --per-instance (and optionally --per-partition) skip the
measurement, e.g. with numbers from production.

It then recommends, for --rate (default deploy.expected_rate) and --p99
(default deploy.p99_target):
  partitions   enough that no lane runs above the target utilisation, and
               2 per instance on a new topic (room to double the group);
               never fewer than the topic has (with --brokers)
  instances    the fewest whose busiest member stays within the target
               utilisation; never more than partitions: when the rate needs
               more instances than the topic has partitions, it recommends
               more partitions instead
  batch        with --p99, the records one lane handles in a quarter of it,
               handed over without waiting (max_wait 0)
  linger       a twentieth of --p99, at most 5ms; 5ms without a target
  concurrency  when the handler is I/O-bound (one instance's rate grows
               with its lanes: it waits rather than computes) and the
               existing topic has too few partitions (or --fixed-partitions):
               processor.ordering=key with processor.concurrency = rate ×
               per-record latency / (partitions × utilisation), at most 256,
               and a processor.max_in_flight to match, instead of more
               partitions (which move keys)

The recommendation is printed as a configuration file to paste (or, with
--yaml, alone, to redirect into one) and as flags. Measuring the noop
handler is warned about: it shows the engine's ceiling, not a real handler.

It assumes --utilisation 0.7 (30% headroom for bursts, rebalances, a lost
instance and catching up after an outage). The measurement runs on this
machine with the broker in-process and no network: treat it as an upper
bound and re-measure on the target hardware.`,
		Example: `  veltrix plan --rate 50000 --p99 50ms
  veltrix plan --config configs/forward.yaml --rate 20000 --json
  veltrix plan --rate 200000 --per-instance 60000 --per-partition 15000
  veltrix plan --rate 10000 --handler simulate --handler.simulate.record_delay 2ms
  veltrix plan --brokers 127.0.0.1:9092 --rate 20000 --fixed-partitions --handler simulate --handler.simulate.record_delay 5ms
  veltrix plan --rate 50000 --per-instance 20000 --yaml > plan.yaml && veltrix config doctor --config plan.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			c := l.Config
			if !cmd.Flags().Changed("rate") {
				rate = c.Deploy.ExpectedRate
			}
			if !cmd.Flags().Changed("p99") {
				p99 = c.Deploy.P99Target
			}
			if rate <= 0 {
				return usageError{errors.New("plan needs a target rate: --rate N (events/s) or deploy.expected_rate")}
			}
			if perPart > 0 && perInst <= 0 {
				return usageError{errors.New("--per-partition needs --per-instance")}
			}
			if utilisation <= 0 || utilisation > 1 {
				return usageError{fmt.Errorf("--utilisation %g: want a share above 0 and at most 1", utilisation)}
			}
			ctx, stop := signalContext(cmd.ErrOrStderr())
			defer stop()

			current := 0
			var perTopic []string // with several input topics, each one's partitions now
			if len(c.Kafka.Brokers) > 0 {
				cl, err := kafka.Connect(ctx, c.Kafka)
				if err != nil {
					return err
				}
				// A topic the cluster says is unknown plans a new one;
				// any other error for it (authorization, no leader) is
				// reported: planning a new topic over an existing one
				// would recommend too few partitions.
				inputs := c.Topic.Inputs()
				if c.Topic.Pattern != "" {
					listed, err := kadm.NewClient(cl).ListTopics(ctx)
					if err != nil {
						cl.Close()
						return fmt.Errorf("listing topics to match topic.pattern: %w", err)
					}
					inputs = pipeline.MatchTopics(c, listed.Names())
				}
				topics, err := kafka.DescribeTopics(ctx, cl, inputs...)
				cl.Close()
				if err != nil {
					return fmt.Errorf("reading the topic's partitions to plan from: %w", err)
				}
				// A group shares the partitions of all its input topics:
				// the plan counts their sum.
				for _, t := range inputs {
					current += len(topics[t].Partitions)
					perTopic = append(perTopic, fmt.Sprintf("%s %d", t, len(topics[t].Partitions)))
				}
			}

			if fixedParts && current == 0 {
				// No cluster asked: the configured count is the fixed one.
				current = c.Topic.Partitions
			}
			var rep planReport
			if perInst <= 0 {
				setup := plan.Setup{Processor: c.Processor, Handler: c.Handler, Producer: c.Producer, Generate: c.Generate,
					Partitions: c.Topic.Partitions, Duration: measure, Logger: newLogger(c.Log, cmd.ErrOrStderr())}
				setup.Generate.Size = c.Deploy.RecordSize
				fmt.Fprintf(cmd.ErrOrStderr(), "measuring handler %s on an embedded cluster: one instance on %d partitions, then one partition, %s each...\n",
					c.Handler.Name, c.Topic.Partitions, measure)
				inst, err := plan.Measure(ctx, setup)
				if err != nil {
					return fmt.Errorf("measuring one instance: %w", err)
				}
				setup.Partitions = 1
				part, err := plan.Measure(ctx, setup)
				if err != nil {
					return fmt.Errorf("measuring one partition: %w", err)
				}
				rep.Instance, rep.Partition = &inst, &part
				perInst, perPart = inst.Rate, part.Rate
				ioBound = ioBound || plan.IOBound(inst, part)
				if c.Handler.Name == "noop" {
					rep.Warnings = append(rep.Warnings, noopWarning)
					fmt.Fprintln(cmd.ErrOrStderr(), "veltrix plan: WARNING:", noopWarning)
				}
			}
			rep.Plan, err = plan.Compute(plan.Input{
				Rate: rate, P99: p99, PerInstance: perInst, PerPartition: perPart, Partitions: current,
				BatchMaxRecords: c.Processor.Batch.MaxRecords, BatchMaxWait: c.Processor.Batch.MaxWait,
				BatchMaxBytes: c.Processor.Batch.MaxBytes, RecordSize: c.Deploy.RecordSize,
				Linger: c.Producer.Linger, Utilisation: utilisation,
				Ordering: string(c.Processor.Ordering), Concurrency: c.Processor.Concurrency,
				IOBound: ioBound, FixedPartitions: fixedParts,
			})
			if err != nil {
				return usageError{err}
			}
			if c.Topic.Several() {
				rep.Plan.Notes = append(rep.Plan.Notes, fmt.Sprintf("the input topics are %s; partitions counts them all together (now: %s), as the group shares them; topic.partitions is what each topic veltrix creates gets",
					c.Topic.Describe(), strings.Join(perTopic, ", ")))
			}
			switch {
			case asJSON:
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			case asYAML:
				_, err := fmt.Fprint(cmd.OutOrStdout(), rep.Plan.YAML())
				return err
			}
			printPlan(cmd.OutOrStdout(), rep, c)
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&rate, "rate", 0, "target rate in events/s (default deploy.expected_rate)")
	f.DurationVar(&p99, "p99", 0, "end-to-end p99 latency target, e.g. 50ms (default deploy.p99_target)")
	f.Float64Var(&perInst, "per-instance", 0, "records/s one instance handles; skips the measurement")
	f.Float64Var(&perPart, "per-partition", 0, "records/s one partition's lane handles (with --per-instance)")
	f.DurationVar(&measure, "measure", 3*time.Second, "how long each measurement runs")
	f.Float64Var(&utilisation, "utilisation", plan.DefaultUtilisation, "share of measured capacity to plan for")
	f.BoolVar(&ioBound, "io-bound", false, "the handler waits on I/O (measured when plan measures): more calls in flight per partition raise its rate")
	f.BoolVar(&fixedParts, "fixed-partitions", false, "the topic's partition count may not change: never recommend more")
	f.BoolVar(&asJSON, "json", false, "print the measurements and the plan as one JSON object")
	f.BoolVar(&asYAML, "yaml", false, "print only the recommended settings, as a configuration file for --config")
	config.AddFlags(f, append([]string{"kafka.", "topic.", "processor.", "handler.", "deploy.", "log."}, config.ProducerKeys()...))
	return cmd
}

func printPlan(w io.Writer, r planReport, c config.Config) {
	p := r.Plan
	target := ""
	if p.P99 > 0 {
		target = fmt.Sprintf(" at p99 ≤ %s", p.P99)
	}
	fmt.Fprintf(w, "veltrix plan: %s events/s%s\n", num(p.Rate), target)
	if r.Instance != nil {
		fmt.Fprintf(w, "measured (embedded cluster, handler %s, %s records, batch.max_records %d):\n",
			c.Handler.Name, config.FormatBytes(c.Deploy.RecordSize), c.Processor.Batch.MaxRecords)
		for _, m := range []struct {
			what string
			m    *plan.Measurement
		}{{fmt.Sprintf("one instance, %d partitions", r.Instance.Partitions), r.Instance}, {"one partition", r.Partition}} {
			fmt.Fprintf(w, "  %-28s %10s records/s  (%d records in %.2fs; batch p50 %s, p99 %s, avg %.0f records)\n",
				m.what, num(m.m.Rate), m.m.Records, m.m.Seconds, m.m.BatchP50, m.m.BatchP99, m.m.AvgBatch)
		}
	} else {
		fmt.Fprintf(w, "given: one instance %s records/s", num(p.PerInstance))
		if p.PerPartition > 0 {
			fmt.Fprintf(w, ", one partition %s records/s", num(p.PerPartition))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "assumes %.0f%% utilisation at the target rate (%.0f%% headroom)\n", p.Utilisation*100, (1-p.Utilisation)*100)
	fmt.Fprintf(w, `recommendation:
  partitions   %d
  instances    %d (an autoscaler's useful maximum is %d: one per partition)
  batch        processor.batch.max_records=%d, max_wait=%s
  linger       producer.linger=%s
  capacity     %s records/s for the group; the target rate is %.0f%% of it
`, p.Partitions, p.Instances, p.MaxInstances, p.BatchMaxRecords, p.BatchMaxWait, p.Linger, num(p.Capacity), p.Load*100)
	if p.Concurrency > 0 {
		fmt.Fprintf(w, "  ordering     processor.ordering=%s, concurrency=%d, max_in_flight=%d (the handler takes about %s per record)\n",
			p.Ordering, p.Concurrency, p.MaxInFlight, p.Latency.Round(time.Microsecond))
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, n := range r.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", n)
	}
	fmt.Fprintf(w, "\nas a configuration file (veltrix plan ... --yaml > plan.yaml; then --config plan.yaml):\n\n%s\nas flags:\n\n  %s\n",
		p.YAML(), p.Flags())
}

// num renders a rate without noise: 412000, 1250.5.
func num(f float64) string {
	if f >= 100 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}
