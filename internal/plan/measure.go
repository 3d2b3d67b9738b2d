package plan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/internal/pipeline"
	"github.com/veltrix/veltrix/internal/stats"
	"github.com/veltrix/veltrix/pkg/embedded"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// Setup is what Measure runs: one processor instance with the engine and
// handler settings, on a fresh embedded cluster, against a backlog.
type Setup struct {
	Processor  processor.Config
	Handler    handler.Config
	Producer   producer.Config // the clients' settings, e.g. the backlog's Compression
	Generate   generate.Config // the backlog's records: Size, Keys
	Partitions int             // partitions of the measured topic
	Duration   time.Duration   // how long to measure once the first batch starts
	// Backlog is how many records are produced before measuring; 0
	// estimates enough to keep every lane busy for Duration.
	Backlog int
	Logger  *slog.Logger // nil discards
}

// Measurement is what one instance handled.
type Measurement struct {
	Partitions int           `json:"partitions"`
	Records    int64         `json:"records"`
	Seconds    float64       `json:"seconds"`
	Rate       float64       `json:"rate"` // records/s
	AvgBatch   float64       `json:"avg_batch"`
	BatchP50   time.Duration `json:"batch_p50_ns"`
	BatchP99   time.Duration `json:"batch_p99_ns"`
	Drained    bool          `json:"drained"` // the backlog ran out before Duration
}

// Backlog bounds.
const (
	minBacklog = 10_000
	maxBacklog = 500_000
)

// Measure starts an embedded cluster, produces a backlog to a topic of
// s.Partitions partitions, and runs one processor instance with the
// configured handler over it for s.Duration, counting the records its
// handler finished and timing each batch. The handler runs for real:
// forward writes to an output topic on the same embedded cluster, log writes
// nowhere. The numbers include the engine's own costs (fetching, queueing,
// batching, commits) but not a network: on a real cluster, expect less.
func Measure(ctx context.Context, s Setup) (Measurement, error) {
	m := Measurement{Partitions: s.Partitions}
	const topic = "plan"
	cl, err := embedded.Start(embedded.Options{Topics: []string{topic}, Partitions: s.Partitions})
	if err != nil {
		return m, err
	}
	defer cl.Close()
	cfg := s.Processor
	cfg.Group.ID, cfg.StartOffset = "veltrix-plan", "earliest"
	c := config.Config{
		Kafka:           kafka.Config{Brokers: cl.Addrs(), ClientID: "veltrix-plan", ConnectTimeout: 10 * time.Second},
		Topic:           kafka.TopicConfig{Name: topic, Partitions: s.Partitions, ReplicationFactor: -1, Create: true},
		ProducerSection: config.ProducerSection{Producer: s.Producer, Generate: s.Generate},
		Processor:       cfg,
		Handler:         s.Handler,
	}

	// The pipeline's client creates forward's output and the dead-letter
	// topic and carries forward's writes; the log handler writes nowhere.
	pl, err := pipeline.Connect(ctx, c, "", pipeline.Options{Logger: s.Logger, Out: io.Discard})
	if err != nil {
		return m, err
	}
	defer pl.Close()

	backlog := s.Backlog
	if backlog <= 0 {
		backlog = estimateBacklog(s)
	}
	gc := s.Generate
	gc.Count, gc.Rate, gc.Duration = backlog, 0, 0
	if err := produceBacklog(ctx, pl, topic, s.Producer, gc); err != nil {
		return m, err
	}

	h := &timed{inner: pl.Handler(), lat: stats.NewLatency()}
	p, err := pl.Processor("", h)
	if err != nil {
		return m, err
	}
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runErr = p.Run(pctx)
	}()
	defer func() {
		stop()
		wg.Wait()
	}()

	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(s.Duration + 30*time.Second) // the group must form first
	for {
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-deadline:
			return m, fmt.Errorf("no measurement within %s: the processor handled %d records", s.Duration+30*time.Second, h.records.Load())
		case <-tick.C:
		}
		// The window starts at the first assignment, so it includes
		// fetching the backlog, not only handling what was already fetched.
		if h.start.Load() == 0 && p.Ready() {
			h.start.CompareAndSwap(0, time.Now().UnixNano())
		}
		start := h.start.Load()
		if start == 0 {
			continue
		}
		elapsed := time.Since(time.Unix(0, start))
		n := h.records.Load()
		// A window that ended before the first batch finished (a loaded
		// machine, a slow first fetch) measured nothing, not a rate of 0:
		// it runs on until one did, within the deadline.
		if n >= int64(backlog) || elapsed >= s.Duration && n > 0 {
			m.Drained = n >= int64(backlog)
			if m.Drained {
				elapsed = time.Unix(0, h.last.Load()).Sub(time.Unix(0, start))
			}
			m.Records, m.Seconds = n, elapsed.Seconds()
			m.Rate = float64(n) / max(elapsed.Seconds(), 1e-6)
			if b := h.lat.Count(); b > 0 {
				m.AvgBatch = float64(n) / float64(b)
			}
			m.BatchP50, m.BatchP99 = h.lat.Quantile(50), h.lat.Quantile(99)
			stop()
			wg.Wait()
			if runErr != nil {
				return m, fmt.Errorf("running the processor: %w", runErr)
			}
			return m, nil
		}
	}
}

// produceBacklog writes gc.Count generated records to topic on a client of
// its own: generated records are stamped as they are produced, so they keep
// the record delivery timeout the pipeline's client leaves out.
func produceBacklog(ctx context.Context, pl *pipeline.Pipeline, topic string, pc producer.Config, gc generate.Config) error {
	cl, err := pl.ProducerClient(ctx, "-backlog")
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := generate.NewGenerator(cl, topic, gc, generate.Options{FlushTimeout: pc.DeliveryTimeout}).Run(ctx); err != nil {
		return fmt.Errorf("producing the backlog: %w", err)
	}
	return nil
}

// estimateBacklog is enough records to keep every lane busy for the
// measuring window: from the simulate handler's declared cost when there
// is one, else the engine's ceiling on this kind of machine.
func estimateBacklog(s Setup) int {
	n := maxBacklog
	if s.Handler.Name == "simulate" {
		b := max(1, s.Processor.Batch.MaxRecords)
		per := s.Handler.Simulate.BatchDelay + time.Duration(b)*s.Handler.Simulate.RecordDelay
		if per > 0 {
			// In key and none ordering each partition runs concurrency
			// calls at once.
			calls := 1
			if s.Processor.Ordering == processor.OrderKey || s.Processor.Ordering == processor.OrderNone {
				calls = max(1, s.Processor.Concurrency)
			}
			lane := float64(b*calls) / per.Seconds()
			n = int(lane * float64(s.Partitions) * s.Duration.Seconds() * 1.5)
		}
	}
	// The embedded cluster keeps the backlog in memory: at most 128MiB.
	ceiling := min(maxBacklog, int(128<<20/max(1, s.Generate.Size)))
	return max(min(n, ceiling), min(minBacklog, ceiling))
}

// timed wraps the handler under measurement: it counts the records of every
// finished batch and times each call.
type timed struct {
	inner       processor.Handler
	lat         *stats.Latency
	records     atomic.Int64
	start, last atomic.Int64 // unix nanoseconds of the first call and the last return
}

func (t *timed) Handle(ctx context.Context, b *processor.Batch) error {
	begin := time.Now()
	t.start.CompareAndSwap(0, begin.UnixNano())
	err := t.inner.Handle(ctx, b)
	end := time.Now()
	t.lat.Record(end.Sub(begin))
	// Count what finished: a failed batch is retried and counted then.
	var re *processor.RecordErrors
	switch {
	case err == nil:
		t.records.Add(int64(len(b.Records)))
	case errors.As(err, &re):
		t.records.Add(int64(len(b.Records) - len(re.Errs)))
	}
	t.last.Store(end.UnixNano())
	return err
}
