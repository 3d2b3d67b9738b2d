package processor

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// Hot-path benchmarks: the per-record and per-batch work of the engine,
// without a cluster. Compare before and after a change with benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 10 ./pkg/processor > old.txt
//	(change)
//	go test -run '^$' -bench . -benchmem -count 10 ./pkg/processor > new.txt
//	benchstat old.txt new.txt
//
// scripts/bench.sh also runs them and keeps the raw output next to its
// results (bench/results/*-hotpaths.txt).

// benchProcessor is a processor with metrics and no client: lanes,
// accounting and instruments work as in a run, fetch pausing is a no-op.
func benchProcessor(b *testing.B, withMetrics bool) *Processor {
	b.Helper()
	// The defaults of processor.* that the hot paths read, without
	// DefaultConfig's handler timeout: BenchmarkLaneProcess arms it.
	cfg := Config{
		Batch:  BatchConfig{MaxRecords: 500, MaxBytes: 1 << 20},
		Commit: CommitConfig{Mode: "interval", Interval: time.Second},
		Buffer: BufferConfig{MaxRecords: 10000, MaxBytes: 64 << 20},
	}
	opts := Options{}
	if withMetrics {
		opts.Metrics = metrics.New(metrics.NewRegistry())
	}
	return newProcessor(kafka.Config{}, "bench", cfg, HandlerFunc(func(context.Context, *Batch) error { return nil }), opts)
}

// benchRecords returns n 100-byte records of one partition.
func benchRecords(n int) []*kgo.Record {
	val := make([]byte, 100)
	now := time.Now()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "bench", Partition: 0, Offset: int64(i), Value: val, Timestamp: now}
	}
	return recs
}

// BenchmarkLaneTake measures batching: pushing one poll's 5,000 records of
// a partition into its lane and taking them out in batches of
// processor.batch.max_records (500), as the poll loop and the lane goroutine
// do. One op is one poll: 5,000 records, 10 batches.
func BenchmarkLaneTake(b *testing.B) {
	for _, tc := range []struct {
		name    string
		metrics bool
	}{{"metrics", true}, {"nometrics", false}} {
		b.Run(tc.name, func(b *testing.B) {
			p := benchProcessor(b, tc.metrics)
			l := newLane(p, "t", 0)
			recs := benchRecords(5000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.push(recs)
				for {
					if n, _ := l.size(); n == 0 {
						break
					}
					if batch, _ := l.take(); len(batch) == 0 {
						b.Fatal("take returned an empty batch with records queued")
					}
				}
			}
		})
	}
}

// BenchmarkCommitTracking measures completing a batch (ownership check and
// the finished offset) plus taking the commit snapshot of 6 owned lanes, as
// interval mode does. One op is one batch completion; a snapshot is taken
// every 6 completions.
func BenchmarkCommitTracking(b *testing.B) {
	p := benchProcessor(b, true)
	p.cfg.Commit.Mode = "interval"
	const parts = 6
	lanes := make([]*lane, parts)
	p.mu.Lock()
	for i := range lanes {
		lanes[i] = newLane(p, "t", int32(i))
		p.lanes[topicPart{"t", int32(i)}] = lanes[i]
	}
	p.mu.Unlock()
	last := &kgo.Record{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		last.Offset = int64(i)
		lanes[i%parts].complete(last)
		if i%parts == parts-1 {
			offsets := map[topicPart]kgo.EpochOffset{}
			p.mu.Lock()
			for part, l := range p.lanes {
				if eo, ok := l.uncommitted(); ok {
					offsets[part] = eo
				}
			}
			p.mu.Unlock()
			for part, eo := range offsets {
				p.lanes[part].committed(eo.Offset)
			}
		}
	}
}

// BenchmarkMetricsDone measures recording a finished 500-record batch:
// the processed counter, batch size and handler time, and one end-to-end
// latency observation per record. Reported per batch. Its records share
// one timestamp, as records of one producer batch mostly do (a run of
// equal timestamps is one latency computation); BenchmarkMetricsDoneDistinct
// is the worst case.
func BenchmarkMetricsDone(b *testing.B) {
	benchMetricsDone(b, benchRecords(500))
}

// BenchmarkMetricsDoneDistinct is BenchmarkMetricsDone with a different
// timestamp on every record.
func BenchmarkMetricsDoneDistinct(b *testing.B) {
	recs := benchRecords(500)
	for i, r := range recs {
		r.Timestamp = r.Timestamp.Add(time.Duration(i) * time.Millisecond)
	}
	benchMetricsDone(b, recs)
}

func benchMetricsDone(b *testing.B, recs []*kgo.Record) {
	p := benchProcessor(b, true)
	obs := p.m.e2eObserver()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Now()
		p.m.handled(len(recs), time.Millisecond)
		p.m.done(obs, recs, len(recs), now)
	}
}

// BenchmarkLaneProcess measures the whole per-batch path after the poll:
// take a batch of 500 from the lane, call the handler (with the default
// 30 s handler.timeout armed), record metrics and the finished offset. One
// op is one poll of 5,000 records.
func BenchmarkLaneProcess(b *testing.B) {
	l := benchLane(b)
	recs := benchRecords(5000)
	b.ReportAllocs()
	for b.Loop() {
		l.push(recs)
		for {
			if n, _ := l.size(); n == 0 {
				break
			}
			batch, last := l.take()
			if !l.process(batch, last) {
				b.Fatal("process stopped")
			}
		}
	}
}

// BenchmarkLaneProcessFew is BenchmarkLaneProcess at a steady rate's shape:
// a poll brings a partition 5 records, handed over as one batch. One op is
// one such poll, so the per-call costs (the handler's context, the batch
// metrics) are what it measures.
func BenchmarkLaneProcessFew(b *testing.B) {
	l := benchLane(b)
	recs := benchRecords(5)
	b.ReportAllocs()
	for b.Loop() {
		l.push(recs)
		batch, last := l.take()
		if !l.process(batch, last) {
			b.Fatal("process stopped")
		}
	}
}

// benchLane is an owned lane of a processor with metrics and the default
// 30 s handler.timeout armed.
func benchLane(b *testing.B) *lane {
	p := benchProcessor(b, true)
	p.cfg.HandlerTimeout = 30 * time.Second
	l := newLane(p, "t", 0)
	p.lanes[l.key()] = l
	return l
}

// BenchmarkPollHandOver is the poll loop's side of a steady-rate poll: 5
// records pushed to each of 6 owned lanes with their lag set, then the
// pause decision after the poll (flowAfterPoll), then each lane's take. One
// op is one poll. No lane goroutine runs: a push's wake is a buffered
// signal, so what this measures is the engine's own work, not the
// scheduler's.
func BenchmarkPollHandOver(b *testing.B) {
	p := benchProcessor(b, true)
	const parts = 6
	lanes := make([]*lane, parts)
	for i := range lanes {
		lanes[i] = newLane(p, "t", int32(i))
		p.lanes[lanes[i].key()] = lanes[i]
	}
	recs := benchRecords(5)
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lanes {
			l.push(recs)
			l.setLag(3)
		}
		p.flowAfterPoll()
		for _, l := range lanes {
			if _, last := l.takeQueued(p.cfg.Batch.MaxRecords); last == nil {
				b.Fatal("nothing taken")
			}
		}
	}
}
