package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/pipeline"
	"github.com/veltrix/veltrix/pkg/embedded"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// consumeTimeout bounds one drain.
const consumeTimeout = 5 * time.Minute

// consumer drains n records of topic and returns records/s.
type consumer func(ctx context.Context, c cluster, topic string, n int) (float64, error)

// consumeAll drains every pre-filled topic with each subject, Runs times,
// interleaved (run 1 of every subject, then run 2, ...) so that drift in
// the machine's load spreads over all subjects alike.
func consumeAll(ctx context.Context, o *Options, res *Results, c cluster, topics map[int]string) error {
	var errs []error
	for _, size := range sortedKeys(topics) {
		subjects := map[string]consumer{}
		var order []string
		if !o.skip("calibration") {
			subjects[KafkaConsumer] = func(ctx context.Context, c cluster, topic string, n int) (float64, error) {
				return consumerPerformance(ctx, o.Root, c.brokers, topic, n)
			}
			order = append(order, KafkaConsumer)
		}
		if !o.skip("consume") {
			subjects[PlainFranz] = plainConsume
			subjects[VeltrixBatch] = veltrixConsume("batch")
			subjects[VeltrixInterval] = veltrixConsume("interval")
			subjects[VeltrixManual] = veltrixConsume("manual")
			subjects[VeltrixNoMetrics] = veltrixConsumeWith("interval", false)
			order = append(order, PlainFranz, VeltrixBatch, VeltrixInterval, VeltrixManual, VeltrixNoMetrics)
		}
		errs = append(errs, measureAll(ctx, o, &res.Consume, c, size, topics[size], o.Scale.Records[size], order, subjects))
	}
	return errors.Join(errs...)
}

func measureAll(ctx context.Context, o *Options, into *[]Measure, c cluster, size int, topic string, n int, order []string, subjects map[string]consumer) error {
	runs := map[string][]float64{}
	var errs []error
	o.settleDisk(fmt.Sprintf("%s consume %dB", c.name, size)) // the topic's fill
	for run := 1; run <= o.Runs; run++ {
		for _, s := range order {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rate, err := subjects[s](ctx, c, topic, n)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s %dB run %d: %w", c.name, s, size, run, err))
				continue
			}
			o.logf("%-8s %-5s %-22s run %d: %10.0f records/s", c.name, fmt.Sprintf("%dB", size), s, run, rate)
			runs[s] = append(runs[s], rate)
		}
	}
	for _, s := range order {
		if len(runs[s]) > 0 {
			*into = append(*into, Measure{Cluster: c.name, Size: size, Subject: s, Runs: runs[s], Median: median(runs[s])})
		}
	}
	return errors.Join(errs...)
}

// consumeEmbedded pre-fills an embedded cluster and drains it with the plain
// loop and the engine. The cluster runs inside this process, sharing its
// cores with the consumer under test.
func consumeEmbedded(ctx context.Context, o *Options, res *Results) error {
	ec, err := embedded.Start(embedded.Options{Partitions: partitions})
	if err != nil {
		return err
	}
	defer ec.Close()
	c := cluster{name: "embedded", brokers: ec.Addrs()}
	topic := uniqueName("bench-fill-embedded")
	n := o.Scale.EmbeddedRecords
	o.logf("pre-filling the embedded cluster with %d × 100-byte records", n)
	if err := prefill(ctx, c.brokers, topic, n, 100); err != nil {
		return err
	}
	subjects := map[string]consumer{
		PlainFranz: plainConsume, VeltrixBatch: veltrixConsume("batch"),
		VeltrixInterval: veltrixConsume("interval"), VeltrixManual: veltrixConsume("manual"),
	}
	return measureAll(ctx, o, &res.Consume, c, 100, topic, n, []string{PlainFranz, VeltrixBatch, VeltrixInterval, VeltrixManual}, subjects)
}

// clock times a drain from the first records handed over to the last one
// counted. The first hand-over's records are not counted in the rate: the
// clock starts when they arrive, so the group join and the first fetch's
// round trip are excluded, as ConsumerPerformance's fetch.nMsg.sec excludes
// its join.
type clock struct {
	want        int64
	got         atomic.Int64
	first, last atomic.Int64 // unix nanoseconds
	firstN      atomic.Int64
	once        sync.Once
	done        chan struct{}
}

func newClock(n int) *clock { return &clock{want: int64(n), done: make(chan struct{})} }

func (c *clock) add(n int) {
	now := time.Now().UnixNano()
	if c.first.CompareAndSwap(0, now) {
		c.firstN.Store(int64(n))
	}
	if c.got.Add(int64(n)) >= c.want {
		c.once.Do(func() {
			c.last.Store(now)
			close(c.done)
		})
	}
}

func (c *clock) rate() (float64, error) {
	d := time.Duration(c.last.Load() - c.first.Load())
	n := c.want - c.firstN.Load()
	if d <= 0 || n <= 0 {
		return 0, fmt.Errorf("the drain was too short to time (%d records in one hand-over): raise the scale", c.want)
	}
	return float64(n) / d.Seconds(), nil
}

// plainConsume is the loop a user would write with franz-go: a group
// member polling and touching every record. It uses the same fetch settings
// as veltrix's defaults and franz-go's default autocommit (every 5 s, of
// what was polled).
func plainConsume(ctx context.Context, c cluster, topic string, n int) (float64, error) {
	fc := config.Default().Processor.Fetch
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ClientID("vbench-plain-consumer"),
		kgo.ConsumerGroup(uniqueName("bench-plain")), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(fc.MaxWait), kgo.FetchMaxBytes(int32(fc.MaxBytes)), kgo.FetchMaxPartitionBytes(int32(fc.MaxPartitionBytes)))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, consumeTimeout)
	defer cancel()
	clk := newClock(n)
	var bytes int64
	for clk.got.Load() < clk.want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("drained %d of %d records: %w", clk.got.Load(), n, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return 0, ferr
		}
		got := 0
		// Touch every value, as a real loop would.
		fs.EachRecord(func(r *kgo.Record) {
			bytes += int64(len(r.Value))
			got++
		})
		if got > 0 {
			clk.add(got)
		}
	}
	return clk.rate()
}

// veltrixConsume drains with veltrix's engine in this process, through the
// Go API, with the noop handler and the given commit mode, metrics on (as
// `veltrix process` runs it). In-process rather than the binary so the clock
// sees the exact first and last hand-over; the binary is measured for
// memory.
func veltrixConsume(mode string) consumer { return veltrixConsumeWith(mode, true) }

// veltrixConsumeWith is veltrixConsume with metrics on or off: off shows
// what the engine costs without its instrumentation.
func veltrixConsumeWith(mode string, withMetrics bool) consumer {
	return func(ctx context.Context, c cluster, topic string, n int) (float64, error) {
		cfg := config.Default()
		cfg.Kafka = c.kafkaConfig("vbench-veltrix")
		cfg.Topic.Name = topic
		cfg.Processor.Group.ID = uniqueName("bench-veltrix-" + mode)
		cfg.Processor.Commit.Mode = processor.CommitMode(mode)
		clk := newClock(n)
		noop := handler.Noop{}
		h := processor.HandlerFunc(func(ctx context.Context, b *processor.Batch) error {
			err := noop.Handle(ctx, b)
			clk.add(len(b.Records))
			return err
		})
		opts := pipeline.Options{}
		if withMetrics {
			opts.Metrics = metrics.New(metrics.NewRegistry())
		}
		p, err := pipeline.NewProcessor(cfg, "", h, opts)
		if err != nil {
			return 0, err
		}
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		errc := make(chan error, 1)
		go func() { errc <- p.Run(rctx) }()
		timeout := time.NewTimer(consumeTimeout)
		defer timeout.Stop()
		select {
		case <-clk.done:
		case err := <-errc:
			return 0, fmt.Errorf("processor stopped early: %v", err)
		case <-timeout.C:
			stop()
			<-errc //nolint:errcheck // waiting for Run to return; the timeout is the error
			return 0, fmt.Errorf("drained %d of %d records in %s", clk.got.Load(), n, consumeTimeout)
		}
		stop()
		if err := <-errc; err != nil {
			return 0, err
		}
		return clk.rate()
	}
}
