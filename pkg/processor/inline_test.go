package processor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// inlineLane is partition 0's lane of a Processor with no client, its
// goroutine running, driven by hand as the poll loop would; next is the
// next offset to hand.
type inlineLane struct {
	t    *testing.T
	p    *Processor
	l    *lane
	next int64
}

func newInlineLane(t *testing.T, h Handler, tune func(*Config)) *inlineLane {
	t.Helper()
	cfg := Config{
		Buffer:    BufferConfig{MaxRecords: 1 << 20, MaxBytes: 1 << 30},
		Batch:     BatchConfig{MaxRecords: 100, MaxBytes: 1 << 20},
		Retry:     RetryConfig{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond},
		OnFailure: OnFailureSkip,
		Commit:    CommitConfig{Mode: CommitInterval},
	}
	if tune != nil {
		tune(&cfg)
	}
	p := newProcessor(kafkaConfigForTest(), "t", cfg, h, Options{Metrics: metrics.New(prometheus.NewRegistry())})
	// A noop call under -race on a busy machine can take over
	// inlineMaxCall; these tests decide which calls are slow themselves.
	p.turnMaxCall = testTurnMaxCall
	p.mu.Lock()
	l := p.startLane(topicPart{"t", 0})
	p.mu.Unlock()
	t.Cleanup(func() {
		l.stop()
		select {
		case <-l.done:
		case <-time.After(10 * time.Second):
			t.Error("the lane's goroutine did not end")
		}
	})
	return &inlineLane{t: t, p: p, l: l}
}

// turns is how many batches the poll loop handled.
func (il *inlineLane) turns() int {
	return int(testutil.ToFloat64(il.l.m.pollLoop))
}

// testTurnMaxCall is the quick calls' bound in these tests: far above a
// noop call, far below what they make slow (3 ×).
const testTurnMaxCall = 50 * time.Millisecond

// records returns the next n records of the partition.
func (il *inlineLane) records(n int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "t", Offset: il.next, Value: []byte("v")}
		il.next++
	}
	return recs
}

// poll is one poll's hand-over of n records, as the poll loop does it; it
// reports whether the poll loop took the turn.
func (il *inlineLane) poll(n int) bool {
	if il.l.hand(il.records(n)) {
		il.l.runInline()
		return true
	}
	return false
}

// settled waits until every record handed so far is finished and the
// lane's goroutine is parked on its empty queue.
func (il *inlineLane) settled() {
	il.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		il.l.mu.Lock()
		ok := il.l.parked && il.l.hasFinish && il.l.finished.Offset == il.next
		il.l.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			il.t.Fatalf("records up to offset %d not finished with the lane parked", il.next)
		}
		time.Sleep(time.Millisecond)
	}
}

// warm hands inlineAfter quick batches, one at a time, to the goroutine.
func (il *inlineLane) warm() {
	il.t.Helper()
	for range inlineAfter {
		if il.poll(1) {
			il.t.Fatal("the poll loop took a turn before the lane's calls were known quick")
		}
		il.settled()
	}
}

// TestPollLoopHandlesQuickPartitionsBatch: once a partition's calls are
// known quick and its goroutine is parked, the poll loop handles the batch
// itself, in order, and the lane's goroutine takes over again afterwards.
func TestPollLoopHandlesQuickPartitionsBatch(t *testing.T) {
	var mu sync.Mutex
	var got []int64
	il := newInlineLane(t, HandlerFunc(func(_ context.Context, b *Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range b.Records {
			got = append(got, r.Offset)
		}
		return nil
	}), nil)
	il.warm()
	for range 20 {
		if !il.poll(5) {
			t.Fatal("the poll loop did not take the turn of a parked lane with quick calls")
		}
		il.settled()
	}
	// A poll bigger than a batch goes to the goroutine.
	if il.poll(il.p.cfg.Batch.MaxRecords + 1) {
		t.Fatal("the poll loop took a turn for more than a batch")
	}
	il.settled()
	if il.turns() != 20 {
		t.Fatalf("the poll loop handled %d batches, want 20", il.turns())
	}
	mu.Lock()
	defer mu.Unlock()
	for i, off := range got {
		if off != int64(i) {
			t.Fatalf("record %d handled at position %d: the offsets are out of order", off, i)
		}
	}
	if int64(len(got)) != il.next {
		t.Fatalf("%d records handled, want %d", len(got), il.next)
	}
}

// TestSlowCallEndsPollLoopTurns: a call slower than inlineMaxCall, or one
// that fails, hands the partition back to its goroutine until twice as many
// quick calls as were needed before follow, and each such call doubles it
// again: a handler that is slow now and then stalls the poll loop a number
// of times that grows with the logarithm of its calls.
func TestSlowCallEndsPollLoopTurns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bad   func() error
		retry int // quick calls the goroutine makes retrying the bad call's batch
	}{
		{"slow", func() error { time.Sleep(3 * testTurnMaxCall); return nil }, 0},
		{"failed", func() error { return errors.New("downstream refused") }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var bad atomic.Bool
			il := newInlineLane(t, HandlerFunc(func(context.Context, *Batch) error {
				if bad.Swap(false) { // one bad call: the turn's
					return tc.bad()
				}
				return nil
			}), nil)
			il.warm()
			for need := 2 * inlineAfter; need <= 8*inlineAfter; need *= 2 {
				bad.Store(true)
				if !il.poll(1) {
					t.Fatalf("the poll loop did not take the turn after %d quick calls", need/2)
				}
				il.settled()
				for i := range need - tc.retry {
					if il.poll(1) {
						t.Fatalf("the poll loop took a turn %d quick calls after a call that %s, want %d first", i, tc.name, need-tc.retry)
					}
					il.settled()
				}
			}
			if !il.poll(1) {
				t.Fatal("the poll loop did not take the turn again")
			}
			il.settled()
		})
	}
}

// TestFailedTurnRetriesOnLanesGoroutine: a batch whose call fails on the
// poll loop is retried by the lane's goroutine, with the failed call as its
// first attempt (max_attempts calls in all, none of them on the poll loop
// after the first), and then goes where on_failure says.
func TestFailedTurnRetriesOnLanesGoroutine(t *testing.T) {
	var fail, turnOver atomic.Bool
	var calls, retriedOnLoop atomic.Int64
	il := newInlineLane(t, HandlerFunc(func(context.Context, *Batch) error {
		if !fail.Load() {
			return nil
		}
		if calls.Add(1) > 1 && !turnOver.Load() {
			retriedOnLoop.Add(1)
		}
		return errors.New("bad record")
	}), func(c *Config) { c.Retry.InitialBackoff, c.Retry.MaxBackoff = 20*time.Millisecond, 20*time.Millisecond })
	il.warm()
	fail.Store(true)
	if !il.l.hand(il.records(1)) {
		t.Fatal("the poll loop did not take the turn")
	}
	il.l.runInline()
	turnOver.Store(true)
	il.settled() // skipped (on_failure=skip): finished past it
	if n := retriedOnLoop.Load(); n > 0 {
		t.Fatalf("%d retries ran on the poll loop", n)
	}
	if n := calls.Load(); n != int64(il.p.cfg.Retry.MaxAttempts) {
		t.Fatalf("the failing record was called %d times, want max_attempts = %d", n, il.p.cfg.Retry.MaxAttempts)
	}
}

// TestLaneEndsAfterPollLoopsTurn: a lane stopped while the poll loop
// handles its batch closes done only after that call returns, so the
// partition's next lane cannot call the handler while it runs.
func TestLaneEndsAfterPollLoopsTurn(t *testing.T) {
	var block atomic.Bool
	started, release := make(chan struct{}), make(chan struct{})
	il := newInlineLane(t, HandlerFunc(func(context.Context, *Batch) error {
		if block.Load() {
			close(started)
			<-release
		}
		return nil
	}), nil)
	il.warm()
	block.Store(true)
	if !il.l.hand(il.records(1)) {
		t.Fatal("the poll loop did not take the turn")
	}
	turn := make(chan struct{})
	go func() {
		il.l.runInline()
		close(turn)
	}()
	<-started
	il.l.stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		il.l.mu.Lock()
		exiting := il.l.exiting
		il.l.mu.Unlock()
		if exiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped lane's goroutine did not reach its end")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-il.l.done:
		t.Fatal("the lane ended while the poll loop's call on it was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-turn
	select {
	case <-il.l.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the lane did not end after the poll loop's call returned")
	}
}

// TestPollLoopAndLaneNeverCallTogether hands batches of random sizes as
// fast as the poll loop can, with stray wakes: the calls on one partition never overlap and see every offset
// once, in order, whichever goroutine makes them.
func TestPollLoopAndLaneNeverCallTogether(t *testing.T) {
	var inFlight, overlaps atomic.Int64
	var next int64
	var disorder atomic.Int64
	var il *inlineLane
	il = newInlineLane(t, HandlerFunc(func(_ context.Context, b *Batch) error {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		for _, r := range b.Records {
			if r.Offset != next {
				disorder.Add(1)
			}
			next = r.Offset + 1
		}
		inFlight.Add(-1)
		// A wake left in the signal, as a push to a busy lane leaves one:
		// the goroutine may look at its queue during the poll loop's turn.
		il.l.wake()
		return nil
	}), nil)
	il.warm()
	for i := range 5000 {
		il.poll(1 + i%7)
		if i%50 == 0 {
			il.settled() // parks the goroutine now and then, so turns are taken
		}
	}
	il.settled()
	if overlaps.Load() > 0 || disorder.Load() > 0 {
		t.Fatalf("%d overlapping calls, %d records out of order", overlaps.Load(), disorder.Load())
	}
	if il.turns() == 0 {
		t.Fatal("the poll loop never took a turn")
	}
}

// TestNoPollLoopTurnsWhereTheyCannotHold: exactly_once, key and none
// ordering, batch.max_wait and commit.mode=batch keep every call on the
// lanes' goroutines.
func TestNoPollLoopTurnsWhereTheyCannotHold(t *testing.T) {
	base := Config{Commit: CommitConfig{Mode: CommitInterval}}
	if !(&Processor{cfg: base}).inlines() {
		t.Fatal("the default settings take no turns")
	}
	for name, tune := range map[string]func(*Processor){
		"exactly_once":      func(p *Processor) { p.txn = &transact{} },
		"key ordering":      func(p *Processor) { p.cfg.Ordering = OrderKey },
		"none ordering":     func(p *Processor) { p.cfg.Ordering = OrderNone },
		"batch.max_wait":    func(p *Processor) { p.cfg.Batch.MaxWait = time.Millisecond },
		"commit.mode=batch": func(p *Processor) { p.cfg.Commit.Mode = CommitBatch },
	} {
		p := &Processor{cfg: base}
		tune(p)
		if p.inlines() {
			t.Errorf("%s: the poll loop takes turns", name)
		}
	}
}
