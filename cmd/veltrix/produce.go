package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/internal/server"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/producer"
)

func newProduce() *cobra.Command {
	var from string
	var asJSON bool
	var cpuProfile *string
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Write events to a topic: generated at a steady rate, or lines from a file or stdin",
		Long: `produce writes events to --topic, creating it when missing (topic.partitions,
topic.replication_factor; topic.create=false turns that off).

Generated events (the default) are a JSON object padded to --size bytes,
{"producer":<id>,"seq":<n>,"pad":"xx..."}, keyed by one of --keys keys: the
producer id and sequence number let 'veltrix verify' check delivery end to
end. Values too small for that JSON, and every event with
--producer.identity_headers (for pipelines that rewrite values but keep
headers), also carry them in two headers, veltrix-producer and veltrix-seq;
on 100-byte events the headers cost Kafka about 30% of the records per second. --rate sets events per second (0: as fast as the cluster accepts);
--count and --duration bound the run; Ctrl-C stops it early. Either way,
produce waits for every acknowledgement before it prints its summary.

With --from FILE (or - for stdin) each line becomes one event value.

On a terminal a progress bar shows rate and ETA (counted in events with
--count, in time with --duration); otherwise a line every 5s.`,
		Example: `  veltrix produce --brokers 127.0.0.1:9092 --rate 5000 --duration 1m
  veltrix produce --brokers 127.0.0.1:9092 --count 1000000 --rate 0 --size 1KiB --json
  seq 1 100 | veltrix produce --brokers 127.0.0.1:9092 --from -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if err := oneTopic(l, "produce"); err != nil {
				return err
			}
			c := l.Config
			stopProfile, err := startCPUProfile(*cpuProfile)
			if err != nil {
				return err
			}
			defer stopProfile()
			// The bar shares stderr with the logs and the signal handler's
			// message; the guard keeps them off the bar's line.
			stderr := newLineGuard(cmd.ErrOrStderr())
			log := newLogger(c.Log, stderr)
			ctx, stop := signalContext(stderr)
			defer stop()

			reg := metrics.NewRegistry()
			m := metrics.New(reg)
			// The counters exist at 0 from the first scrape, while the
			// client still connects: dashboards tell the producer from
			// other processes by them, and a first failure counts.
			m.ProducerCounters(c.Topic.Name)
			srv, err := serveMetrics(l, reg, server.Probes{}, nil)
			if err != nil {
				return err
			}
			if srv != nil {
				defer srv.Close()
				fmt.Fprintf(stderr, "veltrix produce: metrics at %s\n", srv.URL())
			}

			kc := c.Kafka
			cl, err := kafka.Connect(ctx, kc, append(producer.ClientOptions(c.Producer), m.ClientHooks())...)
			if err != nil {
				return err
			}
			defer cl.Close()
			if _, err := kafka.EnsureTopic(ctx, cl, c.Topic, c.Topic.Name); err != nil {
				return err
			}

			var res generate.Result
			var snap func() generate.Result
			var runErr error
			if from != "" {
				in := io.Reader(cmd.InOrStdin())
				if from != "-" {
					f, err := os.Open(from)
					if err != nil {
						return fmt.Errorf("opening --from: %w", err)
					}
					defer func() { _ = f.Close() }() // read only
					in = f
				}
				lp := generate.NewLines(cl, c.Topic.Name, c.Generate, generate.Options{Metrics: m, FlushTimeout: c.Producer.DeliveryTimeout})
				snap = lp.Stats().Snapshot
				pr := startProgress(stderr, 0, 0, snap)
				res, runErr = lp.Run(ctx, in)
				pr.Stop()
			} else {
				g := generate.NewGenerator(cl, c.Topic.Name, c.Generate, generate.Options{Metrics: m, FlushTimeout: c.Producer.DeliveryTimeout})
				snap = g.Stats().Snapshot
				log.Debug("producing", "topic", c.Topic.Name, "producer_id", g.ID(), "rate", c.Generate.Rate)
				pr := startProgress(stderr, int64(c.Generate.Count), c.Generate.Duration, snap)
				res, runErr = g.Run(ctx)
				pr.Stop()
			}
			out := cmd.OutOrStdout()
			if asJSON {
				_ = json.NewEncoder(out).Encode(res)
			} else {
				rate := 0.0
				if res.Seconds > 0 {
					rate = float64(res.Acked) / res.Seconds
				}
				fmt.Fprintf(out, "produced %d, acked %d, failed %d in %.1fs (%.0f events/s) to %s\n",
					res.Produced, res.Acked, res.Failed, res.Seconds, rate, c.Topic.Name)
			}
			return runErr
		},
	}
	cpuProfile = cpuProfileFlag(cmd)
	cmd.Flags().StringVar(&from, "from", "", "produce each line of this file as an event (- reads stdin) instead of generating")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as one JSON object: produced, acked, failed, seconds")
	config.AddFlags(cmd.Flags(), append([]string{"kafka.", "producer.", "metrics.", "log."}, oneTopicKeys...))
	return cmd
}
