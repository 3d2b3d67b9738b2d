package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/internal/pipeline"
	"github.com/veltrix/veltrix/internal/stats"
	"github.com/veltrix/veltrix/pkg/embedded"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// flowRun is one run of the generator at a fixed rate into a fresh topic
// with one veltrix engine consuming it, all at veltrix's defaults (linger
// 1 ms, lz4, acks=all; interval commits; batch.max_wait 0).
type flowRun struct {
	achieved float64 // acknowledged events/s
	lat      *stats.Latency
	ack      *stats.Latency // record timestamp → producer acknowledgement
	lags     []int64        // acknowledged minus handled, sampled every second
	endLag   int64          // the same when the generator stopped
}

// latencyHandler records each record's latency from its producer
// timestamp to the handler call, once the warm-up is over.
type latencyHandler struct {
	from    time.Time
	lat     *stats.Latency
	handled atomic.Int64
}

func (h *latencyHandler) Handle(_ context.Context, b *processor.Batch) error {
	now := time.Now()
	for _, r := range b.Records {
		if r.Timestamp.After(h.from) {
			h.lat.Record(now.Sub(r.Timestamp))
		}
	}
	h.handled.Add(int64(len(b.Records)))
	return nil
}

// startConsumer starts the consumer under test on topic and waits until it
// owns every partition. It returns a stop function that waits for it.
type startConsumer func(ctx context.Context, c cluster, topic string, h *latencyHandler) (stop func() error, err error)

// startEngine runs veltrix's engine at its defaults.
func startEngine(ctx context.Context, c cluster, topic string, h *latencyHandler) (func() error, error) {
	cfg := config.Default()
	cfg.Kafka = c.kafkaConfig("vbench-latency")
	cfg.Topic.Name = topic
	cfg.Processor.Group.ID = uniqueName("bench-latency")
	p, err := pipeline.NewProcessor(cfg, "", h, pipeline.Options{Metrics: metrics.New(metrics.NewRegistry())})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- p.Run(rctx) }()
	stop := func() error {
		cancel()
		return <-errc
	}
	deadline := time.Now().Add(30 * time.Second)
	for !p.Ready() || len(p.Assigned()) < partitions {
		if time.Now().After(deadline) {
			_ = stop()
			return nil, fmt.Errorf("the engine did not join its group within 30s")
		}
		select {
		case err := <-errc:
			cancel()
			return nil, fmt.Errorf("processor stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return stop, nil
}

// startPlain runs the plain franz-go loop at the same fetch settings,
// handing each poll's records to h, as the anchor of the latency runs.
func startPlain(ctx context.Context, c cluster, topic string, h *latencyHandler) (func() error, error) {
	fc := config.Default().Processor.Fetch
	var assigned atomic.Int64
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ClientID("vbench-latency-plain"),
		kgo.ConsumerGroup(uniqueName("bench-latency-plain")), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(fc.MaxWait), kgo.FetchMaxBytes(int32(fc.MaxBytes)), kgo.FetchMaxPartitionBytes(int32(fc.MaxPartitionBytes)),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			assigned.Add(int64(len(m[topic])))
		}))
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for rctx.Err() == nil {
			fs := cl.PollFetches(rctx)
			fs.EachPartition(func(p kgo.FetchTopicPartition) {
				if len(p.Records) > 0 {
					_ = h.Handle(rctx, &processor.Batch{Topic: p.Topic, Partition: p.Partition, Records: p.Records})
				}
			})
		}
	}()
	stop := func() error {
		cancel()
		<-done
		cl.Close()
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for assigned.Load() < partitions {
		if time.Now().After(deadline) {
			_ = stop()
			return nil, fmt.Errorf("the franz-go loop did not join its group within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return stop, nil
}

func runFlow(ctx context.Context, c cluster, start startConsumer, rate float64, dur, warm time.Duration) (*flowRun, error) {
	topic := uniqueName("bench-latency")
	if err := createTopic(ctx, c.brokers, topic); err != nil {
		return nil, err
	}
	defer deleteTopics(c.brokers, topic)

	cfg := config.Default()
	h := &latencyHandler{lat: stats.NewLatency(), from: time.Now().Add(time.Hour)}
	stop, err := start(ctx, c, topic, h)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = stop()
		}
	}()

	pc := cfg.Producer
	gc := cfg.Generate
	gc.Rate, gc.Duration, gc.ID = rate, dur, "vbench-latency"
	pcl, err := kafka.Connect(ctx, c.kafkaConfig("vbench-latency-producer"), producer.ClientOptions(pc)...)
	if err != nil {
		return nil, err
	}
	defer pcl.Close()
	// Prime every partition and wait until the consumer has handled the
	// primers: its fetch positions are resolved and its fetches are
	// running, so the measured part of the run does not include start-up.
	primed, err := prime(ctx, pcl, topic, h)
	if err != nil {
		return nil, err
	}
	out := &flowRun{lat: h.lat, ack: stats.NewLatency()}
	from := time.Now().Add(warm)
	gen := generate.NewGenerator(pcl, topic, gc, generate.Options{FlushTimeout: pc.DeliveryTimeout, OnAck: func(r *kgo.Record) {
		if r.Timestamp.After(from) {
			out.ack.Record(time.Since(r.Timestamp))
		}
	}})
	h.from = from

	sampled := make(chan struct{})
	sctx, stopSampling := context.WithCancel(ctx)
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				out.lags = append(out.lags, gen.Stats().Snapshot().Acked-(h.handled.Load()-primed))
			}
		}
	}()
	began := time.Now()
	r, err := gen.Run(ctx)
	elapsed := time.Since(began)
	stopSampling()
	<-sampled
	if err != nil {
		return nil, err
	}
	out.achieved = float64(r.Acked) / min(elapsed, dur).Seconds()
	total := r.Acked + primed // everything the consumer must handle
	out.endLag = total - h.handled.Load()
	// Let the engine catch up so the tail of the run is measured too.
	for h.handled.Load() < total && time.Since(began) < dur+30*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	stopped = true
	if err := stop(); err != nil {
		return nil, err
	}
	if got := h.handled.Load(); got < total {
		return nil, fmt.Errorf("handled %d of %d acknowledged events 30 s after producing stopped", got, total)
	}
	return out, nil
}

// primers is how many keyed records prime a latency run: enough distinct
// keys to reach all six partitions (a miss has odds below 1e-7).
const primers = 100

// prime produces primers records with distinct keys and waits until h has
// handled them all; it returns how many it produced.
func prime(ctx context.Context, cl *kgo.Client, topic string, h *latencyHandler) (int64, error) {
	before := h.handled.Load()
	for i := range primers {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("primer-%d", i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, fmt.Errorf("priming: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.handled.Load()-before < primers {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the consumer handled %d of %d primers within 30s", h.handled.Load()-before, primers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return primers, nil
}

// latencyAll measures end-to-end latency at each fixed rate, Runs times,
// with veltrix's engine and, on the real broker, the plain franz-go loop as
// the anchor.
func latencyAll(ctx context.Context, o *Options, res *Results, c cluster) error {
	var errs []error
	errs = append(errs, latencyOf(ctx, o, res, c, "veltrix", startEngine))
	if c.real {
		errs = append(errs, latencyOf(ctx, o, res, c, PlainFranz, startPlain))
	}
	return errors.Join(errs...)
}

func latencyOf(ctx context.Context, o *Options, res *Results, c cluster, subject string, start startConsumer) error {
	var errs []error
	for _, rate := range o.Scale.LatencyRates {
		var p50, p99, p999, mx, ach, ack []float64
		var count int64
		for run := 1; run <= o.Runs; run++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fr, err := runFlow(ctx, c, start, rate, o.Scale.LatencyDuration, o.Scale.LatencyWarmup)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s latency at %.0f/s run %d: %w", c.name, subject, rate, run, err))
				continue
			}
			p50 = append(p50, stats.Ms(fr.lat.Quantile(50)))
			p99 = append(p99, stats.Ms(fr.lat.Quantile(99)))
			p999 = append(p999, stats.Ms(fr.lat.Quantile(99.9)))
			mx = append(mx, stats.Ms(fr.lat.Quantile(100)))
			ach = append(ach, fr.achieved)
			ack = append(ack, stats.Ms(fr.ack.Quantile(99)))
			count = fr.lat.Count()
			o.logf("%-8s %-13s latency at %7.0f/s run %d: achieved %.0f/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms (%d events); produce-ack p99 %.2f ms",
				c.name, subject, rate, run, fr.achieved, p50[len(p50)-1], p99[len(p99)-1], p999[len(p999)-1], count, ack[len(ack)-1])
		}
		if len(p99) > 0 {
			res.Latency = append(res.Latency, Latency{Cluster: c.name, Subject: subject, Rate: rate, Achieved: median(ach),
				P50Ms: median(p50), P99Ms: median(p99), P999Ms: median(p999), MaxMs: median(mx), AckP99Ms: median(ack), Count: count, RunsP99: p99})
		}
	}
	return errors.Join(errs...)
}

// latencyEmbedded is latencyAll on an embedded cluster in this process.
func latencyEmbedded(ctx context.Context, o *Options, res *Results) error {
	ec, err := embedded.Start(embedded.Options{Partitions: partitions})
	if err != nil {
		return err
	}
	defer ec.Close()
	return latencyAll(ctx, o, res, cluster{name: "embedded", brokers: ec.Addrs()})
}

// sustained reports whether a probe held its rate: the generator reached
// 95% of it, and over the second half of the probe the engine was never
// more than one second of events behind (lag that grows does not stay
// under a fixed bound for the second half of a minute).
func sustained(rate float64, fr *flowRun) (ok bool, maxLag int64) {
	half := fr.lags[len(fr.lags)/2:]
	for _, l := range half {
		maxLag = max(maxLag, l)
	}
	maxLag = max(maxLag, fr.endLag)
	return fr.achieved >= 0.95*rate && float64(maxLag) <= rate, maxLag
}

// sustainSearch finds the highest rate sustained for SustainDuration: it
// starts at the highest latency rate, doubles while probes pass,
// then bisects between the last pass and the first failure, within
// SustainProbes probes.
func sustainSearch(ctx context.Context, o *Options, res *Results, c cluster) error {
	s := Sustained{Cluster: c.name, Seconds: o.Scale.SustainDuration.Seconds()}
	lo, hi := 0.0, 0.0
	rate := 100_000.0
	if n := len(o.Scale.LatencyRates); n > 0 {
		rate = o.Scale.LatencyRates[n-1]
	}
	for i := 0; i < o.Scale.SustainProbes && ctx.Err() == nil; i++ {
		fr, err := runFlow(ctx, c, startEngine, rate, o.Scale.SustainDuration, o.Scale.LatencyWarmup)
		if err != nil {
			return fmt.Errorf("probe at %.0f/s: %w", rate, err)
		}
		ok, maxLag := sustained(rate, fr)
		p := Probe{Rate: rate, Achieved: fr.achieved, MaxLag: maxLag, EndLag: fr.endLag, P99Ms: stats.Ms(fr.lat.Quantile(99)), OK: ok}
		s.Probes = append(s.Probes, p)
		o.logf("%-8s sustain probe %.0f/s for %s: achieved %.0f/s, max lag %d, p99 %.1f ms, ok=%v",
			c.name, rate, o.Scale.SustainDuration, p.Achieved, maxLag, p.P99Ms, ok)
		if ok {
			lo = rate
			s.Rate = rate
		} else {
			hi = rate
		}
		switch {
		case hi == 0:
			rate *= 2
		case lo == 0:
			rate /= 2
		default:
			rate = (lo + hi) / 2
		}
		rate = float64(int(rate/1000)) * 1000 // whole thousands read better
	}
	res.Sustained = append(res.Sustained, s)
	return nil
}
