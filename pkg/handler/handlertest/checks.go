package handlertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/processor"
)

// Names of the checks, as Run's subtests and Check's errors show them.
const (
	checkBatches              = "Batches"
	checkRedelivery           = "Redelivery"
	checkContextDone          = "ContextDone"
	checkBatchOwnership       = "BatchOwnership"
	checkConcurrentPartitions = "ConcurrentPartitions"
)

// checks are the suite, in the order it runs them (the package doc says
// what each checks and why).
var checks = []struct {
	name string
	fn   func(*run)
}{
	{checkBatches, (*run).batches},
	{checkRedelivery, (*run).redelivery},
	{checkContextDone, (*run).contextDone},
	{checkBatchOwnership, (*run).batchOwnership},
	{checkConcurrentPartitions, (*run).concurrentPartitions},
}

// run is one check on one handler.
type run struct {
	s *suite
	h processor.Handler

	mu         sync.Mutex
	next       map[int32]int64 // the next offset of each partition
	violations []error
	calls      int
	succeeded  int // calls that finished at least one record
}

func (r *run) violate(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.violations = append(r.violations, fmt.Errorf(format, args...))
}

// batch returns the next n records of part, in offset order.
func (r *run) batch(part int32, n int) *processor.Batch {
	recs := r.s.records(part, n)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == nil {
		r.next = map[int32]int64{}
	}
	for _, rec := range recs {
		if rec.Topic == "" {
			rec.Topic = Topic
		}
		rec.Partition = part
		rec.Offset = r.next[part]
		r.next[part]++
	}
	return &processor.Batch{Topic: Topic, Partition: part, Records: recs}
}

// call calls Handle as the engine does (a panic becomes an error) and
// checks the result against the batch: a *RecordErrors names only records
// of the batch, each with an error.
func (r *run) call(ctx context.Context, b *processor.Batch) error {
	n := len(b.Records)
	err := safeHandle(ctx, r.h, b)
	var re *processor.RecordErrors
	named := 0
	if errors.As(err, &re) && re != nil {
		for i, e := range re.Errs {
			switch {
			case i < 0 || i >= n:
				r.violate("a *processor.RecordErrors names record %d of a batch of %d: the engine takes an index outside the batch for no failure, so the record meant counts as done and is committed", i, n)
			case e == nil:
				r.violate("a *processor.RecordErrors names record %d with a nil error: the engine needs the cause (the dead letter's %s header)", i, processor.HeaderDLQError)
			default:
				named++
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if err == nil || re != nil && named < n {
		r.succeeded++
	}
	return err
}

// callWithin runs call and waits at most limit for it; it reports false
// when the call had not returned by then (it is left running).
func (r *run) callWithin(ctx context.Context, b *processor.Batch, limit time.Duration) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.call(ctx, b)
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func safeHandle(ctx context.Context, h processor.Handler, b *processor.Batch) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return h.Handle(ctx, b)
}

// batches hands over batches of the sizes processor.batch yields.
func (r *run) batches() {
	for _, n := range []int{1, 7, 100} {
		_ = r.call(context.Background(), r.batch(0, n))
	}
}

// redelivery hands over a batch, then fresh copies of its records, as a
// restart or a rebalance does: what the handler finished the first time it
// must finish again.
func (r *run) redelivery() {
	b := r.batch(0, 10)
	again := &processor.Batch{Topic: b.Topic, Partition: b.Partition}
	for _, rec := range b.Records {
		c := *rec
		c.Key, c.Value = bytes.Clone(rec.Key), bytes.Clone(rec.Value)
		c.Headers = slices.Clone(rec.Headers)
		again.Records = append(again.Records, &c)
	}
	first := r.call(context.Background(), b)
	second := r.call(context.Background(), again)
	if first != nil && !isRecordErrors(first) {
		return // the whole batch failed: nothing was finished
	}
	for i := range again.Records {
		if !failed(first, i) && failed(second, i) {
			r.violate("record %d, finished when first handed over, failed when handed over again (at-least-once delivery redelivers finished records): %v", i, second)
			return
		}
	}
}

func isRecordErrors(err error) bool {
	var re *processor.RecordErrors
	return errors.As(err, &re)
}

// failed reports whether err, a call's result, fails record i.
func failed(err error, i int) bool {
	var re *processor.RecordErrors
	if err == nil {
		return false
	}
	if !errors.As(err, &re) {
		return true
	}
	if re == nil {
		return false
	}
	_, ok := re.Errs[i]
	return ok
}

// contextDone calls with a context already cancelled (the partition was
// taken away) and with one whose deadline passes during the call (as
// handler.timeout sets): each must return within the suite's bound.
func (r *run) contextDone() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if !r.callWithin(ctx, r.batch(0, 10), r.s.within) {
		r.violate("with its context already cancelled, Handle had not returned after %s; the engine waits for it, holding the partition", r.s.within)
	}
	const deadline = 50 * time.Millisecond
	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if !r.callWithin(ctx, r.batch(1, 100), deadline+r.s.within) {
		r.violate("with a context deadline of %s, Handle had not returned after %s; the engine waits for it, holding the partition", deadline, deadline+r.s.within)
	}
}

// batchOwnership checks that Handle leaves Batch.Records, and the fields
// of its records the engine reads after the call, unchanged; then it
// overwrites the slice, as the engine does when it reuses it.
func (r *run) batchOwnership() {
	b := r.batch(0, 10)
	recs := b.Records // the engine keeps its own reference to the slice
	type fields struct {
		rec                *kgo.Record
		topic              string
		partition, epoch   int32
		offset             int64
		key, value         []byte
		headerKeys, hvalue []string
	}
	snap := make([]fields, len(recs))
	for i, rec := range recs {
		f := fields{rec: rec, topic: rec.Topic, partition: rec.Partition, epoch: rec.LeaderEpoch, offset: rec.Offset,
			key: bytes.Clone(rec.Key), value: bytes.Clone(rec.Value)}
		for _, h := range rec.Headers {
			f.headerKeys = append(f.headerKeys, h.Key)
			f.hvalue = append(f.hvalue, string(h.Value))
		}
		snap[i] = f
	}
	_ = r.call(context.Background(), b)
	for i, f := range snap {
		rec := recs[i]
		if rec != f.rec {
			r.violate("Handle replaced Batch.Records[%d]: the engine owns the slice and reads it after the call (dead letters, commits)", i)
			continue
		}
		var hk, hv []string
		for _, h := range rec.Headers {
			hk = append(hk, h.Key)
			hv = append(hv, string(h.Value))
		}
		if rec.Topic != f.topic || rec.Partition != f.partition || rec.LeaderEpoch != f.epoch || rec.Offset != f.offset ||
			!bytes.Equal(rec.Key, f.key) || !bytes.Equal(rec.Value, f.value) || !slices.Equal(hk, f.headerKeys) || !slices.Equal(hv, f.hvalue) {
			r.violate("Handle changed record %d (topic, partition, offset, leader epoch, key, value or headers): the engine reads them after the call, to commit and to write dead letters", i)
		}
	}
	// The engine copies its next batch into this slice: a handler still
	// reading it now races with these writes (go test -race reports it).
	for i := range recs {
		recs[i] = &kgo.Record{Topic: Topic, Partition: -1, Offset: -1}
	}
}

// concurrentPartitions calls Handle for four partitions at once, several
// batches each, each partition's in offset order, as the engine does.
func (r *run) concurrentPartitions() {
	var wg sync.WaitGroup
	for part := range int32(4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				_ = r.call(context.Background(), r.batch(part, 20))
			}
		}()
	}
	wg.Wait()
}
