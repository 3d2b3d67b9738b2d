package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

func newProcess() *cobra.Command {
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

Metrics, /healthz and /readyz are served on --metrics-addr. SIGINT or SIGTERM
finishes in-flight batches (all bounded by one processor.shutdown_timeout),
commits and leaves the group (a static member, with
processor.group.instance_id, commits and stays, so a restart within the
session timeout moves nothing); a second signal exits at once.`,
		Example: `  veltrix process --brokers 127.0.0.1:9092 --topic events --group billing
  veltrix process --brokers 127.0.0.1:9092 --handler forward --output-topic events-out
  veltrix process --config configs/high-throughput.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			c := l.Config
			log := newLogger(c.Log, cmd.ErrOrStderr())
			ctx, stop := signalContext(cmd.ErrOrStderr())
			defer stop()

			reg := metrics.NewRegistry()
			m := metrics.New(reg)

			pcl, h, err := connectPipeline(ctx, c, m, "-producer", cmd.OutOrStdout())
			if err != nil {
				return err
			}
			defer pcl.Close()

			pc := c.Kafka
			pc.ClientID = c.Kafka.ClientID + "-consumer"
			p, err := processor.New(pc, c.Topic.Name, c.Processor, h, processor.Options{
				Metrics: m, Logger: log,
				// The consumer client writes dead letters with the producer settings.
				ClientOpts: append(producer.ClientOptions(c.Producer), m.ClientHooks()),
			})
			if err != nil {
				return err
			}
			// The lag monitor of this group, on the same /metrics.
			stopLag, err := runOwnLag(ctx, l, pcl, reg, log, 0)
			if err != nil {
				return err
			}
			defer stopLag()
			m.RegisterReady(p.Ready)
			srv, err := serveMetrics(l, reg, p.Ready, statusMux(reg, "veltrix process · group "+c.Processor.Group.ID))
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
				c.Topic.Name, c.Processor.Group.ID, c.Handler.Name, c.Processor.Commit.Mode, where)
			return p.Run(ctx)
		},
	}
	config.AddFlags(cmd.Flags(), append([]string{"kafka.", "topic.", "processor.", "handler.", "metrics.", "log.", "lag.interval", "lag.window", "lag.cluster"}, config.ProducerKeys()...))
	return cmd
}

// connectPipeline connects the producer client that checks the cluster,
// creates the topics c needs and writes forwarded records, and builds the
// configured handler. The caller closes the client. The client has no record
// delivery timeout (producer.ForwardClientOptions): forward keeps source
// timestamps and applies producer.delivery_timeout from each call instead,
// so it must not produce records stamped now, such as generated events.
func connectPipeline(ctx context.Context, c config.Config, m *metrics.Metrics, idSuffix string, out io.Writer) (*kgo.Client, processor.Handler, error) {
	pk := c.Kafka
	pk.ClientID = c.Kafka.ClientID + idSuffix
	pcl, err := kafka.Connect(ctx, pk, append(producer.ForwardClientOptions(c.Producer), m.ClientHooks())...)
	if err != nil {
		return nil, nil, err
	}
	if err := ensureTopics(ctx, pcl, c); err != nil {
		pcl.Close()
		return nil, nil, err
	}
	h, err := handler.New(c.Handler, handler.Deps{Producer: pcl, DeliveryTimeout: c.Producer.DeliveryTimeout, Out: out})
	if err != nil {
		pcl.Close()
		return nil, nil, err
	}
	return pcl, h, nil
}

// ensureTopics checks, and creates where allowed, every topic c uses: the
// input, forward's output and the dead-letter topic.
func ensureTopics(ctx context.Context, cl *kgo.Client, c config.Config) error {
	topics := []string{c.Topic.Name}
	if c.Handler.Name == "forward" || c.Handler.Name == "simulate" && c.Handler.Simulate.Forward {
		topics = append(topics, c.Handler.OutputTopic)
	}
	if c.Processor.OnFailure == "dlq" {
		topics = append(topics, processor.DLQTopic(c.Processor, c.Topic.Name))
	}
	for _, t := range topics {
		if _, err := kafka.EnsureTopic(ctx, cl, c.Topic, t); err != nil {
			return err
		}
	}
	return nil
}
