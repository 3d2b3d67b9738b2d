package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/doctor"
	"github.com/veltrix/veltrix/internal/pipeline"
	"github.com/veltrix/veltrix/internal/server"
	"github.com/veltrix/veltrix/pkg/metrics"
)

func newProcess() *cobra.Command {
	var quiet bool
	var cpuProfile *string
	cmd := &cobra.Command{
		Use:   "process",
		Short: "Consume a topic as a consumer-group member and hand its records to a handler",
		Long: `process joins consumer group --group on --topic and processes every assigned
partition in its own lane, in offset order, in batches bounded by
processor.batch.max_records, max_bytes and max_wait. Offsets are committed only
for records whose handling finished (at-least-once), per processor.commit.mode,
and only while this member still owns the partition.

Run more copies with the same --group to scale out, up to one per partition:
members beyond the partition count sit idle.

Handlers (--handler): noop counts and drops (the benchmark baseline), log
prints each record, forward writes each record to --output-topic keeping key,
headers and timestamp, simulate spends handler.simulate.* time per record and
batch, fails a share of records, and for fault tests can hang one call or
forward what it handled.

A record that still fails after processor.retry.max_attempts goes where
processor.on_failure says: halt (stop its partition), skip, or dlq (the
dead-letter topic, with headers naming where it came from).

A handler call over handler.timeout is retried with backoff, never counted as
a record failure; a partition never has two calls at once. Transactional
input is read committed (processor.isolation_level).

On a terminal, process prints this member's partition assignment when it
changes and a status line each second (processed/s, lag, failed,
partitions); --quiet, or stderr not being a terminal, turns both off.

Metrics, /healthz and /readyz are served on --metrics-addr. SIGINT or SIGTERM
finishes in-flight batches (all bounded by one processor.shutdown_timeout),
commits and leaves the group (a static member, with
processor.group.instance_id, commits and stays, so a restart within the
session timeout moves nothing); a second signal exits at once.`,
		Example: `  veltrix process --brokers 127.0.0.1:9092 --topic events --group billing
  veltrix process --brokers 127.0.0.1:9092 --handler forward --output-topic events-out
  veltrix process --config configs/high-throughput.yaml
  veltrix process --brokers 127.0.0.1:9092 --handler simulate --handler.simulate.record_delay 2ms --quiet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			c := l.Config
			stopProfile, err := startCPUProfile(*cpuProfile)
			if err != nil {
				return err
			}
			defer stopProfile()
			log := newLogger(c.Log, cmd.ErrOrStderr())
			tuneGC(c.Deploy, doctor.CgroupRoot, log)
			ctx, stop := signalContext(cmd.ErrOrStderr())
			defer stop()

			reg := metrics.NewRegistry()
			m := metrics.New(reg)

			pl, err := pipeline.Connect(ctx, c, "-producer", pipeline.Options{Metrics: m, Logger: log, Out: cmd.OutOrStdout()})
			if err != nil {
				return err
			}
			defer pl.Close()
			p, err := pl.Processor("-consumer", pl.Handler())
			if err != nil {
				return err
			}
			// The lag monitor of this group, on the same /metrics.
			stopLag, err := pl.StartOwnLag(ctx, reg)
			if err != nil {
				return err
			}
			defer stopLag()
			m.RegisterReady(p.Ready)
			m.RegisterLive(func() bool { return p.Live() == nil })
			srv, err := serveMetrics(l, reg, server.Probes{Ready: p.Readiness, Live: p.Live}, statusMux(ctx, reg, "veltrix process · group "+c.Processor.Group.ID, p.Halted))
			if err != nil {
				return err
			}
			if srv != nil {
				defer srv.Close()
			}
			where := "metrics disabled"
			if srv != nil {
				where = "metrics at " + srv.URL() + ", status page at " + statusURL(srv)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "veltrix process: topic %s, group %s, handler %s, commit %s; %s\n",
				c.Topic.Describe(), c.Processor.Group.ID, c.Handler.Name, c.Processor.Commit.Mode, where)
			if !quiet && isTerminal(cmd.ErrOrStderr()) {
				st := &processStatus{w: cmd.ErrOrStderr(), owned: p.Owned, topics: c.Topic.Several(), gather: reg, group: c.Processor.Group.ID}
				go st.run(ctx)
			}
			return p.Run(ctx)
		},
	}
	cpuProfile = cpuProfileFlag(cmd)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no assignment changes or status line on a terminal (off anyway when stderr is not one)")
	config.AddFlags(cmd.Flags(), append([]string{"kafka.", "topic.", "processor.", "handler.", "metrics.", "log.", "lag.interval", "lag.window", "lag.cluster"}, config.ProducerKeys()...))
	return cmd
}
