package processor

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The poll loop's turn: at a steady rate most polls bring a partition a
// few records, and waking the partition's goroutine to hand them over cost
// more than handling them (6–8 % of the process's CPU at 10k records/s,
// BENCHMARKS.md). So the poll loop handles such a batch itself when the
// lane's goroutine is parked on an empty queue and the partition's handler
// calls have all been quick and successful; otherwise it wakes the
// goroutine as before.
//
// What still holds:
//   - one handler call per partition at a time, in offset order: the turn
//     is taken under the lane's lock, only while its goroutine is parked,
//     and the goroutine takes nothing until the turn ends (takeFor); a
//     goroutine that exits waits for the turn to end first (leave), so the
//     partition's next lane never calls while it runs;
//   - a slow partition's isolation: there are no turns before inlineAfter
//     quick calls, and a call that took longer than inlineMaxCall, or
//     failed, ends them until twice as many quick calls follow (quickCall).
//     A handler that turns slow stalls the poll loop for one call, and one
//     that is slow now and then, a number of times that grows with the
//     logarithm of its calls;
//   - retries, dead letters and halts: a failed call's batch goes back to
//     the goroutine (held), which retries it as its own first attempt, so
//     no backoff ever runs on the poll loop;
//   - rebalances: the turn runs between a poll and AllowRebalance, when no
//     revoke can stop the lane.
//
// There are no turns under exactly_once (the transaction's quiesce waits
// for lanes from the poll loop), key or none ordering (sub-lanes do the
// calls), batch.max_wait (the goroutine waits to fill a batch) or
// commit.mode=batch (a commit round trip per batch is never quick).
const (
	// inlineMaxCall is the longest handler call that keeps the poll loop's
	// turns: a few hand-overs' worth (a hand-over costs about 5 µs).
	inlineMaxCall = 100 * time.Microsecond
	// inlineAfter is how many quick, successful calls the lane's goroutine
	// makes before the poll loop takes a turn; each slow or failed call
	// doubles the number needed after it (inlineNeedMax at most).
	inlineAfter   = 8
	inlineNeedMax = 1 << 30
)

// heldBatch is a batch whose first call, on the poll loop, failed: the
// lane's goroutine takes it before its queue and goes on from that error.
type heldBatch struct {
	recs []*kgo.Record
	last *kgo.Record
	err  error
}

// inlines reports whether the processor's settings allow the poll loop's
// turns at all.
func (p *Processor) inlines() bool {
	return p.txn == nil && !p.cfg.Ordering.concurrent() && p.cfg.Batch.MaxWait <= 0 && p.cfg.Commit.Mode != CommitBatch
}

// hand queues a poll's records for the partition and reports whether the
// poll loop takes the turn (then it calls runInline after queueing the
// poll's other partitions); otherwise the lane's goroutine is woken.
func (l *lane) hand(recs []*kgo.Record) bool {
	if l.queueUp(recs, len(recs) <= l.p.cfg.Batch.MaxRecords && l.p.inlines()) {
		return true
	}
	l.wake()
	return false
}

// runInline handles one batch on the poll loop, in the turn hand gave it,
// and ends the turn.
func (l *lane) runInline() {
	recs, last := l.takeFor(l.p.cfg.Batch.MaxRecords, true)
	var held heldBatch
	switch {
	case last == nil: // dropped meanwhile
	case len(recs) == 0:
		l.complete(last) // transaction markers only
	default:
		if err := l.call(recs); err != nil {
			held = heldBatch{recs, last, err}
			break
		}
		l.settle(recs, last, nil)
		clear(recs)
	}
	l.mu.Lock()
	l.inline = false
	l.held = held
	more := l.held.last != nil || len(l.queue) > l.head
	exiting := l.exiting
	l.mu.Unlock()
	if last != nil {
		l.m.turn()
	}
	switch {
	case exiting:
		l.inlineEnd <- struct{}{}
	case more:
		l.wake()
	}
}

// unhold returns the held batch, and keeps its error for process; l.mu is
// held.
func (l *lane) unhold() (batch []*kgo.Record, last *kgo.Record) {
	h := l.held
	l.held = heldBatch{}
	l.firstErr = h.err
	return h.recs, h.last
}

// takeHeld returns the held batch, if any, for a stopped lane's goroutine:
// a batch in flight is finished, not dropped.
func (l *lane) takeHeld() (batch []*kgo.Record, last *kgo.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held.last == nil {
		return nil, nil
	}
	return l.unhold()
}

// leave ends the lane's goroutine's part in the turns: no more are given,
// and one still running ends before the goroutine does.
func (l *lane) leave() {
	l.mu.Lock()
	l.parked, l.exiting = false, true
	running := l.inline
	l.mu.Unlock()
	if running {
		<-l.inlineEnd
	}
}

// quickCall counts a handler call for the poll loop's turns (l.mu held).
// A slow or failed call ends them until twice as many quick calls as were
// last needed follow it: a call preempted on a busy machine costs a few
// batches' hand-overs, and a handler that is slow now and then stalls the
// poll loop a number of times that grows with the logarithm of its calls,
// not with them.
func (l *lane) quickCall(d time.Duration, ok bool) {
	switch {
	case !ok || d > l.p.turnMaxCall:
		l.quick, l.need = 0, min(2*l.need, inlineNeedMax)
	case l.quick < l.need:
		l.quick++
	}
}

// quickNow reports whether the partition's recent calls allow a turn (l.mu
// held).
func (l *lane) quickNow() bool { return l.quick >= l.need }
