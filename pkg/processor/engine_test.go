package processor_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// runOne runs a single processor until stop returns true or timeout.
func runOne(t *testing.T, brokers []string, topic string, cfg processor.Config, h processor.Handler, opts processor.Options, stop func(p *processor.Processor) bool) {
	t.Helper()
	p := mustNew(t, kcfg(brokers, "solo"), topic, cfg, h, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	kafkatest.Eventually(t, 60*time.Second, "the stop condition", func() bool { return stop(p) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestBatchBounds(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		produce(t, c.Brokers, topic, 3000)
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Batch.MaxRecords = 7
		cfg.Batch.MaxBytes = 1 << 20
		var mu sync.Mutex
		var total, over int
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			mu.Lock()
			defer mu.Unlock()
			total += len(b.Records)
			if len(b.Records) > 7 || len(b.Records) == 0 {
				over++
			}
			return nil
		})
		runOne(t, c.Brokers, topic, cfg, h, processor.Options{}, func(*processor.Processor) bool {
			mu.Lock()
			defer mu.Unlock()
			return total >= 3000
		})
		if over > 0 {
			t.Fatalf("%d batches broke max_records=7", over)
		}

		// max_bytes: 100-byte values plus ~10-byte keys; 350 bytes fit three.
		cfg.Group.ID = kafkatest.Name(t, "g2")
		cfg.Batch.MaxRecords = 1000
		cfg.Batch.MaxBytes = 350
		total, over = 0, 0
		h = processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			var n int
			for _, r := range b.Records {
				n += len(r.Key) + len(r.Value)
			}
			mu.Lock()
			defer mu.Unlock()
			total += len(b.Records)
			if n > 350 && len(b.Records) > 1 {
				over++
			}
			return nil
		})
		runOne(t, c.Brokers, topic, cfg, h, processor.Options{}, func(*processor.Processor) bool {
			mu.Lock()
			defer mu.Unlock()
			return total >= 3000
		})
		if over > 0 {
			t.Fatalf("%d batches broke max_bytes=350", over)
		}
	})
}

// TestMaxWaitFillsBatches checks that max_wait holds a batch open for
// records that trickle in, instead of handing them over one by one.
func TestMaxWaitFillsBatches(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Batch.MaxWait = 300 * time.Millisecond
		cfg.Fetch.MaxWait = 10 * time.Millisecond
		var mu sync.Mutex
		var batches, total int
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			mu.Lock()
			defer mu.Unlock()
			batches++
			total += len(b.Records)
			return nil
		})
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, h, processor.Options{})
		stop := start(t, p, 30*time.Second)
		// The records must trickle in while the member consumes, not wait
		// in the topic for it to join.
		awaitReady(t, p, 60*time.Second)
		for range 20 {
			produce(t, c.Brokers, topic, 1)
			time.Sleep(20 * time.Millisecond) // the trickle's pace, not a wait
		}
		kafkatest.Eventually(t, 60*time.Second, "all 20 records handled", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return total >= 20
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if batches > 10 {
			t.Fatalf("20 records trickling in over ~0.6s came in %d batches; max_wait=300ms should gather them", batches)
		}
	})
}

func TestCommitModes(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		produce(t, c.Brokers, topic, 600)
		for _, mode := range []string{"batch", "interval", "manual"} {
			t.Run(mode, func(t *testing.T) {
				group := kafkatest.Name(t, "g")
				cfg := testConfig(group)
				cfg.Commit.Mode = processor.CommitMode(mode)
				cfg.Commit.Interval = time.Hour // interval mode must still commit on shutdown
				var n atomic.Int64
				h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
					n.Add(int64(len(b.Records)))
					return nil
				})
				p := mustNew(t, kcfg(c.Brokers, "m"), topic, cfg, h, processor.Options{})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- p.Run(ctx) }()
				kafkatest.Eventually(t, 30*time.Second, "all processed", func() bool { return n.Load() >= 600 })
				comm, ends := committed(t, c.Brokers, group, topic)
				switch mode {
				case "batch":
					// Committed synchronously after each batch, before the next.
					kafkatest.Eventually(t, 10*time.Second, "batch commits", func() bool {
						comm, ends = committed(t, c.Brokers, group, topic)
						return equal(comm, ends)
					})
				case "manual", "interval":
					if len(comm) != 0 {
						t.Fatalf("%s mode committed %v before being asked", mode, comm)
					}
				}
				if mode == "manual" {
					if err := p.Commit(context.Background()); err != nil {
						t.Fatal(err)
					}
					comm, ends = committed(t, c.Brokers, group, topic)
					if !equal(comm, ends) {
						t.Fatalf("after Commit: committed %v, ends %v", comm, ends)
					}
				}
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				comm, ends = committed(t, c.Brokers, group, topic)
				if !equal(comm, ends) {
					t.Fatalf("after shutdown: committed %v, ends %v", comm, ends)
				}
			})
		}
	})
}

func equal(a, b map[int32]int64) bool {
	for p, v := range b {
		if a[p] != v {
			return false
		}
	}
	return true
}

// TestHandlerTimeoutAndPanic: a call that overruns handler.timeout is
// retried without using up an attempt, a call that panics counts as a
// failed attempt and is retried; the process survives and every record is
// processed.
func TestHandlerTimeoutAndPanic(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		produce(t, c.Brokers, topic, 50)
		var calls, done atomic.Int64
		h := processor.HandlerFunc(func(ctx context.Context, b *processor.Batch) error {
			switch calls.Add(1) {
			case 1:
				<-ctx.Done() // a downstream slower than handler.timeout
				return ctx.Err()
			case 2:
				panic("boom")
			}
			done.Add(int64(len(b.Records)))
			return nil
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Retry.MaxAttempts = 2 // the timeout must not use one up
		cfg.OnFailure = "skip"
		reg := prometheus.NewRegistry()
		cfg.HandlerTimeout = 100 * time.Millisecond
		runOne(t, c.Brokers, topic, cfg, h, processor.Options{Metrics: metrics.New(reg)},
			func(*processor.Processor) bool { return done.Load() >= 50 })
		if calls.Load() < 3 {
			t.Fatalf("only %d calls", calls.Load())
		}
		if got := counter(t, reg, "veltrix_handler_timeouts_total"); got != 1 {
			t.Fatalf("timeouts = %v, want 1", got)
		}
		if got := counter(t, reg, "veltrix_handler_retries_total"); got != 1 {
			t.Fatalf("retries = %v, want 1 (the panic)", got)
		}
		if got := counterWith(t, reg, "veltrix_failed_records_total", "outcome", "skip"); got != 0 {
			t.Fatalf("%v records skipped: a timeout or a retried panic is not a poison record", got)
		}
	})
}

// TestHandlerIgnoringContextNeverRunsConcurrently is the regression test
// for a handler that ignores ctx past handler.timeout: the engine used to
// start the retry while the first call still ran (two calls at once on one
// partition, a goroutine leaked per attempt), and under on_failure=skip it
// skipped records whose downstream was merely slow. Now the next call waits
// for the overdue one, which shows in veltrix_overdue_handler_calls, and
// nothing is skipped.
func TestHandlerIgnoringContextNeverRunsConcurrently(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		produce(t, c.Brokers, topic, 20)
		var calls, inFlight, overlap, done atomic.Int64
		release := make(chan struct{})
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			if inFlight.Add(1) > 1 {
				overlap.Add(1)
			}
			defer inFlight.Add(-1)
			if calls.Add(1) <= 3 {
				<-release // ignores ctx: only the test lets it go
				return errors.New("downstream unavailable")
			}
			done.Add(int64(len(b.Records)))
			return nil
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Retry.MaxAttempts = 1
		cfg.OnFailure = "skip"
		cfg.HandlerTimeout = 50 * time.Millisecond
		reg := prometheus.NewRegistry()
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, h, processor.Options{Metrics: metrics.New(reg)})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- p.Run(ctx) }()
		for i := range 3 {
			kafkatest.Eventually(t, 30*time.Second, "an overdue call", func() bool {
				return gauge(t, reg, "veltrix_overdue_handler_calls") == 1 && calls.Load() == int64(i+1)
			})
			time.Sleep(100 * time.Millisecond) // past two more timeouts: no new call may start
			if calls.Load() != int64(i+1) {
				t.Fatalf("a new call started while call %d still ran", i+1)
			}
			release <- struct{}{}
		}
		kafkatest.Eventually(t, 30*time.Second, "every record processed", func() bool { return done.Load() >= 20 })
		cancel()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if overlap.Load() > 0 {
			t.Fatalf("%d calls overlapped on one partition", overlap.Load())
		}
		if got := counterWith(t, reg, "veltrix_failed_records_total", "outcome", "skip"); got != 0 {
			t.Fatalf("%v records skipped although only their handler call timed out", got)
		}
		if got := gauge(t, reg, "veltrix_overdue_handler_calls"); got != 0 {
			t.Fatalf("overdue gauge %v after the calls returned", got)
		}
	})
}

// TestBackpressureBoundsMemory: a handler far slower than the backlog must
// make the engine pause fetching, keeping buffered bytes within the budget
// plus one fetch response.
func TestBackpressureBoundsMemory(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 4)
		// Uncompressed 16 KiB batches, so a fetch response is bounded by
		// fetch.max_bytes (a broker returns a larger first batch whole).
		produceWith(t, c.Brokers, topic, 20000, func(pc *producer.Config) {
			pc.Compression, pc.BatchMaxBytes = "none", 16<<10
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Buffer.MaxBytes = 64 << 10
		cfg.Buffer.MaxRecords = 100
		cfg.Batch.MaxRecords = 10
		cfg.Batch.MaxBytes = 4 << 10
		cfg.Fetch.MaxBytes = 64 << 10
		cfg.Fetch.MaxPartitionBytes = 16 << 10
		reg := prometheus.NewRegistry()
		m := metrics.New(reg)
		var n atomic.Int64
		var maxBuf, maxPaused float64
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			time.Sleep(2 * time.Millisecond)
			n.Add(int64(len(b.Records)))
			return nil
		})
		runOne(t, c.Brokers, topic, cfg, h, processor.Options{Metrics: m}, func(*processor.Processor) bool {
			maxBuf = max(maxBuf, gauge(t, reg, "veltrix_buffered_bytes"))
			maxPaused = max(maxPaused, gauge(t, reg, "veltrix_paused_partitions"))
			return n.Load() >= 3000
		})
		// Budget plus one fetch response: fetch.max_bytes on the wire, a
		// record of ~150 wire bytes costing ~400 bytes queued.
		limit := float64(cfg.Buffer.MaxBytes + cfg.Fetch.MaxBytes*3)
		if maxBuf > limit {
			t.Fatalf("buffered %v bytes, over budget + one fetch response %v", maxBuf, limit)
		}
		if maxPaused == 0 {
			t.Fatal("never paused a partition although the handler is far slower than the backlog")
		}
		t.Logf("max buffered %v bytes (limit %v), max paused partitions %v", maxBuf, limit, maxPaused)
	})
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, get func(*dto.Metric) float64) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += get(m)
			}
		}
	}
	return sum
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	return metricValue(t, reg, name, func(m *dto.Metric) float64 { return m.GetGauge().GetValue() })
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	return metricValue(t, reg, name, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}
