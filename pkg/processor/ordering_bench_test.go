package processor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/kafka"
)

// Ordering benchmarks: the engine without a cluster (records pushed into
// six partitions' lanes as the poll loop does), partition ordering against
// key ordering. Run them at small scale on a shared machine:
//
//	go test -run '^$' -bench 'Ordering' -benchtime 2000x ./pkg/processor
//
// BenchmarkOrderingIO: a handler that waits 5 ms per record (the simulate
// handler's record_delay), 10,000 distinct keys; records/s is the figure.
// BenchmarkOrderingNoop: a handler that does nothing; ns/op is per record.

// runOrdering pushes n records with keys of 10,000 over 6 partitions into
// lanes in order, with handler h, and returns once every lane finished
// them all, with the time that took.
func runOrdering(b *testing.B, order Ordering, conc, n int, h Handler) time.Duration {
	b.Helper()
	const parts = 6
	cfg := DefaultConfig()
	cfg.HandlerTimeout = 0
	cfg.Ordering, cfg.Concurrency = order, conc
	p := newProcessor(kafka.Config{}, "bench", cfg, h, Options{})
	per := n / parts
	recs := make([][]*kgo.Record, parts)
	now := time.Now()
	for part := range recs {
		recs[part] = make([]*kgo.Record, per)
		for i := range recs[part] {
			recs[part][i] = &kgo.Record{Topic: "bench", Partition: int32(part), Offset: int64(i),
				Key: fmt.Appendf(nil, "key-%d", rand.IntN(10000)), Value: make([]byte, 100), Timestamp: now}
		}
	}
	lanes := make([]*lane, parts)
	b.ResetTimer()
	start := time.Now()
	p.mu.Lock()
	for part := range lanes {
		lanes[part] = p.startLane(topicPart{"bench", int32(part)})
	}
	p.mu.Unlock()
	for part, l := range lanes {
		// The poll loop's pace: a fetch's worth at a time, never more
		// than the buffer bound holds.
		for i := 0; i < per; i += 500 {
			l.push(recs[part][i:min(i+500, per)])
		}
	}
	for _, l := range lanes {
		for finishedAt(l) < int64(per) {
			time.Sleep(100 * time.Microsecond) // polling the end of the measurement
		}
	}
	took := time.Since(start)
	b.StopTimer()
	p.release(lanes, time.Minute, false)
	return took
}

func orderingCases() []struct {
	name  string
	order Ordering
	conc  int
} {
	return []struct {
		name  string
		order Ordering
		conc  int
	}{
		{"partition", OrderPartition, 1},
		{"key-8", OrderKey, 8},
		{"key-32", OrderKey, 32},
		{"key-128", OrderKey, 128},
	}
}

func BenchmarkOrderingIO(b *testing.B) {
	sleep := HandlerFunc(func(ctx context.Context, batch *Batch) error {
		select {
		case <-time.After(time.Duration(len(batch.Records)) * 5 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	})
	for _, tc := range orderingCases() {
		b.Run(tc.name, func(b *testing.B) {
			took := runOrdering(b, tc.order, tc.conc, max(b.N, 6), sleep)
			b.ReportMetric(float64(max(b.N, 6)/6*6)/took.Seconds(), "records/s")
		})
	}
}

func BenchmarkOrderingNoop(b *testing.B) {
	noop := HandlerFunc(func(context.Context, *Batch) error { return nil })
	for _, tc := range orderingCases() {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			runOrdering(b, tc.order, tc.conc, max(b.N, 6), noop)
		})
	}
}
