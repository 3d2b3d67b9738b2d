package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/delivery"
	"github.com/veltrix/veltrix/internal/event"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/internal/pipeline"
	"github.com/veltrix/veltrix/internal/server"
	"github.com/veltrix/veltrix/internal/stats"
	"github.com/veltrix/veltrix/pkg/embedded"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// demoDrainTimeout bounds how long the demo waits, after producing stops,
// for the processors to finish the backlog.
const demoDrainTimeout = 30 * time.Second

// demoSettleTimeout bounds the wait for the group to form before producing.
const demoSettleTimeout = 30 * time.Second

// demoLagInterval is the lag poll interval of veltrix demo when lag.interval
// is left at its default: a short demo should show lag move.
const demoLagInterval = 2 * time.Second

func newDemo() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline — producer, a group of processors, metrics — and report delivery",
		Long: `demo runs the pipeline end to end on one machine. With no --brokers it starts
an embedded Kafka-protocol cluster on 127.0.0.1 (nothing to install); with
--brokers it uses that cluster instead.

It creates the topic, produces identifiable events at --rate, processes them
with a consumer group of --members members using the configured handler and
engine settings, serves Prometheus metrics (the URL is printed at start), and
prints a status line each second: produced/s, processed/s, lag (events
acknowledged but not yet processed) and end-to-end p99 (record timestamp to
end of handling).

On --duration or Ctrl-C it stops producing, lets the group finish the backlog,
and prints a summary: produced, processed, lost, duplicates, max lag, and
end-to-end p50/p99. --json prints the summary as one JSON object. A demo that
lost events exits 1.`,
		Example: `  veltrix demo
  veltrix demo --duration 30s --rate 20000 --json
  veltrix demo --brokers 127.0.0.1:19092 --members 3 --processor.commit.mode batch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runDemo(cmd, l, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as one JSON object")
	// The demo's generator runs for demo.duration, without a count, and
	// with its own id: of its settings only rate, size and keys apply.
	config.AddFlags(cmd.Flags(), append(append([]string{"demo.", "kafka.", "processor.", "handler.", "metrics.", "log.", "lag.interval", "lag.window", "lag.cluster",
		"producer.rate", "producer.size", "producer.keys"}, oneTopicKeys...), config.ProducerKeys()...))
	return cmd
}

// demoSummary is what demo reports at the end.
type demoSummary struct {
	Seconds    float64 `json:"seconds"`
	Produced   int64   `json:"produced"`
	Acked      int64   `json:"acked"`
	Processed  int64   `json:"processed"`
	Lost       int64   `json:"lost"`
	Duplicates int64   `json:"duplicates"`
	MaxLag     int64   `json:"max_lag"`
	E2EP50Ms   float64 `json:"e2e_p50_ms"`
	E2EP99Ms   float64 `json:"e2e_p99_ms"`
}

func runDemo(cmd *cobra.Command, l *config.Loaded, asJSON bool) error {
	if err := oneTopic(l, "demo"); err != nil {
		return err
	}
	c := l.Config
	stderr := cmd.ErrOrStderr()
	log := newLogger(c.Log, stderr)
	ctx, stop := signalContext(stderr)
	defer stop()

	where := strings.Join(c.Kafka.Brokers, ",")
	if len(c.Kafka.Brokers) == 0 {
		cl, err := embedded.Start(embedded.Options{Topics: []string{c.Topic.Name}, Partitions: c.Topic.Partitions})
		if err != nil {
			return err
		}
		defer cl.Close()
		c.Kafka.Brokers = cl.Addrs()
		where = "embedded cluster at " + strings.Join(cl.Addrs(), ",")
	}

	reg := metrics.NewRegistry()
	m := metrics.New(reg)
	// The generator starts once the group settles; its counters exist at 0
	// from the first scrape.
	m.ProducerCounters(c.Topic.Name)
	tracker := delivery.NewTracker()
	lat := stats.NewLatency()

	if l.Sources["lag.interval"].Layer == "default" {
		c.Lag.Interval = demoLagInterval
	}
	pl, err := pipeline.Connect(ctx, c, "-demo-producer", pipeline.Options{Metrics: m, Logger: log, Out: cmd.OutOrStdout()})
	if err != nil {
		return err
	}
	defer pl.Close()
	h := &demoHandler{inner: pl.Handler(), tracker: tracker, lat: lat}
	// The generator's events are stamped as they are produced: they get a
	// client of their own, with the record delivery timeout the pipeline's
	// client leaves out for forward.
	gcl, err := pl.ProducerClient(ctx, "-demo-generator")
	if err != nil {
		return err
	}
	defer gcl.Close()

	// The group: members in this process, each with its own client.
	ids := make([]string, c.Demo.Members)
	for i := range ids {
		ids[i] = fmt.Sprintf("-demo-member-%d", i+1)
	}
	group, err := pl.Group(h, ids...)
	if err != nil {
		return err
	}
	procCtx, stopProcs := context.WithCancel(context.Background())
	defer stopProcs()
	groupDone := make(chan error, 1)
	go func() { groupDone <- group.Run(procCtx) }()
	// The lag monitor of the demo's group, on the same /metrics.
	stopLag, err := pl.StartOwnLag(ctx, reg)
	if err != nil {
		return err
	}
	defer stopLag()
	m.RegisterReady(group.Ready)
	m.RegisterLive(func() bool { return group.Live() == nil })
	srv, err := serveMetrics(l, reg, server.Probes{Ready: group.Readiness, Live: group.Live}, statusMux(ctx, reg, "veltrix demo · group "+c.Processor.Group.ID, memberHalts(group)...))
	if err != nil {
		return err
	}
	metricsAt := "metrics disabled"
	if srv != nil {
		defer srv.Close()
		metricsAt = "metrics at " + srv.URL() + ", status page at " + statusURL(srv)
	}
	fmt.Fprintf(stderr, "veltrix demo: %s; topic %s (%d partitions); %d members, handler %s; %.0f events/s; %s\n",
		where, c.Topic.Name, c.Topic.Partitions, c.Demo.Members, c.Handler.Name, c.Generate.Rate, metricsAt)
	if c.Demo.Duration > 0 {
		fmt.Fprintf(stderr, "running for %s; Ctrl-C stops early\n", c.Demo.Duration)
	} else {
		fmt.Fprintln(stderr, "running until Ctrl-C")
	}

	// Start producing once the group has settled, so the numbers describe
	// the pipeline, not the first rebalance.
	if err := waitSettled(ctx, group, groupDone, stderr); err != nil {
		return err
	}

	// Produce until the duration passes or a signal arrives.
	genCtx := ctx
	if c.Demo.Duration > 0 {
		var cancel context.CancelFunc
		genCtx, cancel = context.WithTimeout(ctx, c.Demo.Duration)
		defer cancel()
	}
	gcfg := c.Generate
	gcfg.Count, gcfg.Duration = 0, 0
	gen := generate.NewGenerator(gcl, c.Topic.Name, gcfg, generate.Options{Metrics: m, FlushTimeout: c.Producer.DeliveryTimeout, OnAck: func(r *kgo.Record) {
		if id, ok := event.Of(r); ok {
			tracker.Acked(id)
		}
	}})
	start := time.Now()
	genDone := make(chan error, 1)
	go func() {
		_, err := gen.Run(genCtx)
		genDone <- err
	}()

	st := &status{w: stderr, tracker: tracker, lat: lat}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var genErr error
produce:
	for {
		select {
		case genErr = <-genDone:
			break produce
		case err := <-groupDone:
			return fmt.Errorf("processor stopped: %w", err)
		case <-tick.C:
			st.line(time.Since(start))
		}
	}

	// Drain: let the group finish what was acknowledged.
	deadline := time.After(demoDrainTimeout)
drain:
	for {
		acked, distinct, _ := tracker.Quick()
		if distinct >= acked {
			break
		}
		select {
		case <-deadline:
			fmt.Fprintf(stderr, "backlog not drained within %s; stopping anyway\n", demoDrainTimeout)
			break drain
		case err := <-groupDone:
			return fmt.Errorf("processor stopped: %w", err)
		case <-tick.C:
			st.line(time.Since(start))
		case <-time.After(20 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	stopProcs()
	if err := <-groupDone; err != nil {
		return fmt.Errorf("processor stopped: %w", err)
	}

	counts := tracker.Counts()
	sum := demoSummary{
		Seconds:    elapsed.Seconds(),
		Produced:   gen.Stats().Snapshot().Produced,
		Acked:      counts.Acked,
		Processed:  counts.Processed,
		Lost:       counts.Lost,
		Duplicates: counts.Duplicates,
		MaxLag:     st.maxLag,
		E2EP50Ms:   stats.Ms(lat.Quantile(50)),
		E2EP99Ms:   stats.Ms(lat.Quantile(99)),
	}
	printSummary(cmd.OutOrStdout(), sum, asJSON)
	if genErr != nil {
		return genErr
	}
	if sum.Lost > 0 {
		return fmt.Errorf("%d acknowledged events were never processed", sum.Lost)
	}
	return nil
}

// waitSettled waits until every member has joined and the partitions are
// spread over them, at most demoSettleTimeout. done delivers the group's
// Run result, which only a failed member sends before ctx ends.
func waitSettled(ctx context.Context, g *pipeline.Group, done <-chan error, w io.Writer) error {
	deadline := time.Now().Add(demoSettleTimeout)
	for time.Now().Before(deadline) {
		if g.Settled() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			return fmt.Errorf("processor stopped: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Fprintf(w, "the group did not settle within %s (more members than partitions?); producing anyway\n", demoSettleTimeout)
	return nil
}

// demoHandler runs the configured handler and records, for every record it
// finished, its identity and end-to-end latency.
type demoHandler struct {
	inner   processor.Handler
	tracker *delivery.Tracker
	lat     *stats.Latency
}

func (d *demoHandler) Handle(ctx context.Context, b *processor.Batch) error {
	err := d.inner.Handle(ctx, b)
	var re *processor.RecordErrors
	if err != nil && !errors.As(err, &re) {
		return err
	}
	now := time.Now()
	for i, r := range b.Records {
		if re != nil {
			if _, failed := re.Errs[i]; failed {
				continue
			}
		}
		if id, ok := event.Of(r); ok {
			d.tracker.Processed(id)
		}
		d.lat.Record(now.Sub(r.Timestamp))
	}
	return err
}

// status prints the demo's one-line-a-second view.
type status struct {
	w                   io.Writer
	tracker             *delivery.Tracker
	lat                 *stats.Latency
	lastAcked, lastProc int64
	maxLag              int64
}

func (s *status) line(elapsed time.Duration) {
	acked, distinct, processed := s.tracker.Quick()
	lag := max(acked-distinct, 0)
	s.maxLag = max(s.maxLag, lag)
	fmt.Fprintf(s.w, "%6s  produced %7d/s  processed %7d/s  lag %7d  e2e p99 %7.1fms\n",
		elapsed.Round(time.Second), acked-s.lastAcked, processed-s.lastProc, lag, stats.Ms(s.lat.Window(99)))
	s.lastAcked, s.lastProc = acked, processed
}

func printSummary(w io.Writer, s demoSummary, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(w).Encode(s)
		return
	}
	fmt.Fprintf(w, `veltrix demo summary (%.1fs)
  produced    %d events (%d acknowledged)
  processed   %d (lost %d, duplicates %d)
  max lag     %d events
  end-to-end  p50 %.1fms  p99 %.1fms
`, s.Seconds, s.Produced, s.Acked, s.Processed, s.Lost, s.Duplicates, s.MaxLag, s.E2EP50Ms, s.E2EP99Ms)
}

// memberHalts is the Halted of every member of g, for the status page.
func memberHalts(g *pipeline.Group) []func() []processor.Halt {
	var out []func() []processor.Halt
	for _, m := range g.Members() {
		out = append(out, m.Halted)
	}
	return out
}
