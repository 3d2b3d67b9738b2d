package processor

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// lane is one owned partition: a queue filled by the poll loop and a
// goroutine that hands the queue to the handler in batches, in order.
type lane struct {
	p     *Processor
	topic string
	part  int32
	m     *instruments // the topic's

	// ctx is cancelled when the lane is abandoned (lost, or still busy at a
	// drain timeout), which cancels a running handler call.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	queue     []*kgo.Record // queue[head:] is waiting
	head      int
	qbytes    int64           // memory cost of the waiting records (recordBytes)
	qpayload  int64           // their key and value bytes, what batch.max_bytes bounds
	paused    bool            // fetching is paused (or being paused) for this partition
	halted    bool            // on_failure=halt stopped this partition until restart
	haltedAt  Halt            // why, when halted
	haltNoted bool            // the halt's offset was committed with its note (halt.go)
	firstOff  int64           // offset of the first record pushed, -1 before any
	gone      bool            // released: the lane takes no records and no pause decisions
	finished  kgo.EpochOffset // next offset after the last finished record
	hasFinish bool
	commitOff int64 // highest offset committed by this lane, -1 for none
	// progress is what Live judges (laneprogress.go).
	progress progress

	signal    chan struct{} // records arrived (capacity 1)
	stopCh    chan struct{} // closed by stop: finish the current batch, take no more
	stopOnce  sync.Once
	done      chan struct{} // closed when run returns
	timer     *time.Timer
	batch     []*kgo.Record          // the buffer batches are copied into
	after     <-chan struct{}        // the partition's previous lane's done, if any
	e2e       *metrics.BatchObserver // this lane's own; nil without metrics
	cc        *callContext           // handler calls' context, reused while unspent (callctx.go)
	callBatch Batch                  // what a handler call gets, reused
	callEnd   time.Time              // when the last handler call returned
	lagG      prometheus.Gauge       // the partition's lag series; the poll loop's alone (setLag)

	// The poll loop's turn (inline.go), guarded by mu: parked is set while
	// the lane's goroutine waits for records with an empty queue, inline
	// while the poll loop handles a batch in its place; quick counts the
	// quick, successful handler calls since the last that was not, and
	// need is how many a turn needs (quickCall).
	parked, inline, exiting bool
	quick, need             int
	inlineEnd               chan struct{} // an inline batch ended while the goroutine exits
	held                    heldBatch     // a batch the poll loop's call failed, for the goroutine
	firstErr                error         // the goroutine's: held's error, for process

	// In key and none ordering (keyed.go): k runs the partition's
	// sub-lanes; a sub-lane's parent is the partition's lane, which its
	// completions, halts and progress go to.
	k      *keyed
	parent *lane
}

func newLane(p *Processor, topic string, part int32) *lane {
	ctx, cancel := context.WithCancel(p.laneContext())
	t := time.NewTimer(time.Hour)
	t.Stop()
	m := p.instrumentsFor(topic)
	return &lane{
		p: p, topic: topic, part: part, m: m, ctx: ctx, cancel: cancel, commitOff: -1, firstOff: -1,
		signal: make(chan struct{}, 1), stopCh: make(chan struct{}), done: make(chan struct{}),
		timer: t, e2e: m.e2eObserver(), progress: progress{at: time.Now()},
		need: inlineAfter, inlineEnd: make(chan struct{}, 1),
	}
}

// push appends fetched records; it never blocks. Backpressure is applied by
// pausing the partition's fetches, not by blocking the poll loop. A halted
// or released lane drops them: they will never be handled here, and counting
// them would hold buffer budget that no lane ever frees.
func (l *lane) push(recs []*kgo.Record) {
	l.queueUp(recs, false)
	l.wake()
}

// queueUp is push without the wake; with claim, it also gives the batch to
// the poll loop when the lane may take its turn (inline.go), and reports
// whether it did.
func (l *lane) queueUp(recs []*kgo.Record, claim bool) (inline bool) {
	var n, payload int64
	for _, r := range recs {
		n += recordBytes(r)
		payload += payloadBytes(r)
	}
	l.mu.Lock()
	if l.halted || l.gone {
		l.mu.Unlock()
		return false
	}
	if l.firstOff < 0 && len(recs) > 0 {
		l.firstOff = recs[0].Offset
	}
	if len(l.queue) == l.head && l.progress.call.IsZero() {
		// Work arrives at an idle lane: the no-progress clock starts now.
		l.progress.at = time.Now()
	}
	l.queue = append(l.queue, recs...)
	l.qbytes += n
	l.qpayload += payload
	if claim && l.parked && !l.inline && l.held.last == nil && l.quickNow() && !l.stopped() {
		l.inline, inline = true, true
	}
	l.mu.Unlock()
	l.p.bufRecs.Add(int64(len(recs)))
	l.p.bufBytes.Add(n)
	l.p.m.buffered(int64(len(recs)), n)
	return inline
}

// wake tells the lane's goroutine to look again: records arrived, or it is
// stopped. The signal holds one wake, so a wake is never lost and never
// blocks.
func (l *lane) wake() {
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// setLag exports the partition's lag after a fetch; only the poll loop calls
// it. The series is looked up on first use and kept: the lane is the
// partition's only owner until released, and a release deletes the series
// only when no newer lane holds it (Processor.forget).
func (l *lane) setLag(lag int64) {
	if l.lagG == nil {
		if l.lagG = l.m.lagGauge(l.part); l.lagG == nil {
			return
		}
	}
	l.lagG.Set(float64(max(lag, 0)))
}

// Memory a queued record costs beyond its key, value and header bytes: the
// kgo.Record struct with its strings and slice headers (about 160 B on
// 64-bit), the queue's pointer, and each header's struct. Counting only key
// and value let 100-byte records hold several times processor.buffer.max_bytes.
const (
	recordOverhead = 176
	headerOverhead = 40
)

// payloadBytes is a record's key and value bytes.
func payloadBytes(r *kgo.Record) int64 { return int64(len(r.Key) + len(r.Value)) }

// recordBytes is what a queued record costs in memory, as counted against
// processor.buffer.max_bytes.
func recordBytes(r *kgo.Record) int64 {
	n := recordOverhead + len(r.Key) + len(r.Value) + len(r.Topic)
	for _, h := range r.Headers {
		n += headerOverhead + len(h.Key) + len(h.Value)
	}
	return int64(n)
}

// stop asks the lane to finish its current batch and take no more. It
// wakes the lane too, so a lane waiting for records waits on its signal
// alone (a receive, cheaper than a select per batch).
func (l *lane) stop() {
	l.stopOnce.Do(func() {
		close(l.stopCh)
		l.wake()
	})
}

// stopNow stops the lane and cancels its running handler call.
func (l *lane) stopNow() {
	l.stop()
	l.cancel()
}

func (l *lane) stopped() bool {
	select {
	case <-l.stopCh:
		return true
	default:
		return false
	}
}

// size returns the queued records and their key and value bytes.
func (l *lane) size() (int, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue) - l.head, l.qpayload
}

// discard empties the queue and returns what it held.
func (l *lane) discard() (recs, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recs, bytes = int64(len(l.queue)-l.head), l.qbytes
	l.queue, l.head, l.qbytes, l.qpayload = nil, 0, 0, 0
	return recs, bytes
}

// halt marks the lane halted at h; it reports false when it already was.
func (l *lane) halt(h Halt) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	was := l.halted
	if !was {
		l.halted, l.haltedAt = true, h
	}
	return !was
}

// retire marks a released lane gone and reports whether it was paused and
// halted, so their gauges are moved back exactly once.
func (l *lane) retire() (wasPaused, wasHalted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	wasPaused, wasHalted = l.paused, l.halted
	l.gone, l.paused = true, false
	return wasPaused, wasHalted
}

// finish records that every record before eo.Offset is done. It never
// moves back: sub-lanes finish concurrently, and one holding an older
// commit offset may get here after one holding a newer.
func (l *lane) finish(eo kgo.EpochOffset) {
	l.mu.Lock()
	if !l.hasFinish || eo.Offset > l.finished.Offset {
		l.finished, l.hasFinish = eo, true
	}
	l.mu.Unlock()
}

// uncommitted returns the finished offset when it is ahead of the last
// commit.
func (l *lane) uncommitted() (kgo.EpochOffset, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if eo, ok := l.haltCommit(); ok {
		return eo, true
	}
	if !l.hasFinish || l.finished.Offset <= l.commitOff {
		return kgo.EpochOffset{}, false
	}
	return l.finished, true
}

func (l *lane) committed(off int64) {
	l.mu.Lock()
	if l.halted && off == l.haltedAt.Offset {
		l.haltNoted = true
	}
	l.commitOff = max(l.commitOff, off)
	l.mu.Unlock()
}

// run hands batches to the handler until the lane is stopped or halted.
func (l *lane) run() {
	defer close(l.done)
	defer l.timer.Stop()
	defer func() {
		if l.cc != nil {
			l.cc.release()
		}
	}()
	if l.after != nil {
		// done means this lane and every earlier lane of the partition
		// are finished, so a chain of quick re-assignments cannot skip
		// past a call that is still running.
		defer func() { <-l.after }()
		select {
		case <-l.after:
		case <-l.stopCh:
			return
		}
	}
	if l.k != nil {
		l.k.run()
		return
	}
	defer l.leave() // an inline batch ends before done closes (inline.go)
	for {
		recs, last := l.take()
		if last == nil {
			return
		}
		if len(recs) == 0 {
			// Only transaction markers: nothing to handle, but the
			// committed offset moves past them, so an idle group on a
			// transactional topic shows no lag.
			l.complete(last)
			continue
		}
		ok := l.processHeld(recs, last)
		// The batch buffer is reused: left in it, the records would pin
		// their fetch responses (a record's key and value point into
		// one) until the next batch overwrites them — for an idle lane,
		// and for each of key ordering's sub-lanes, indefinitely.
		clear(recs)
		if !ok {
			return
		}
	}
}

// processHeld is process, but under exactly_once a handler call starts
// only while the lanes are not held for a transaction's end (quiesce.go);
// a lane stopped while it waits returns false without handling recs.
func (l *lane) processHeld(recs []*kgo.Record, last *kgo.Record) bool {
	t := l.p.txn
	if t == nil {
		return l.process(recs, last)
	}
	if !t.q.enter(l.stopCh) {
		return false
	}
	defer t.q.leave()
	return l.process(recs, last)
}

// take waits for a batch: at least one record, then more until a bound of
// processor.batch is reached or max_wait has passed. It returns the batch
// without control records (transaction markers, which the client keeps so
// their offsets can be finished), and the last record taken, control or
// not; last is nil when the lane is stopped (a sub-lane first drains its
// queue: stopTake).
func (l *lane) take() (batch []*kgo.Record, last *kgo.Record) {
	cfg := l.p.cfg.Batch
	for {
		if l.stopped() {
			if batch, last := l.takeHeld(); last != nil {
				return batch, last // the in-flight batch finishes (inline.go)
			}
			return l.stopTake()
		}
		if cfg.MaxWait <= 0 {
			// Latency first (the default): what is queued is the batch,
			// taken in one lock round.
			if batch, last := l.takeQueued(cfg.MaxRecords); last != nil {
				return batch, last
			}
		} else if n, b := l.size(); n > 0 {
			if n < cfg.MaxRecords && b < cfg.MaxBytes && !l.fill(cfg.MaxWait) {
				return l.stopTake()
			}
			if l.stopped() {
				return l.stopTake()
			}
			return l.takeQueued(cfg.MaxRecords)
		}
		<-l.signal // records arrived, or stop (which wakes too)
	}
}

// takeQueued takes up to limit queued records (fewer when
// processor.batch.max_bytes is reached first) without waiting, as take
// describes; last is nil when the queue is empty.
func (l *lane) takeQueued(limit int) (batch []*kgo.Record, last *kgo.Record) {
	return l.takeFor(limit, false)
}

// takeFor is takeQueued for the lane's goroutine, or for the poll loop in
// its turn (byPoll). The goroutine gets a batch the poll loop handed back
// first, and nothing during the poll loop's turn; finding nothing, it is
// parked, as it waits for a wake next.
func (l *lane) takeFor(limit int, byPoll bool) (batch []*kgo.Record, last *kgo.Record) {
	cfg := l.p.cfg.Batch
	l.mu.Lock()
	if !byPoll {
		l.parked = false
		if l.held.last != nil {
			batch, last = l.unhold()
			l.mu.Unlock()
			return batch, last
		}
	}
	var bytes, payload int64
	n := 0
	waiting := l.queue[l.head:]
	if len(waiting) == 0 || l.inline && !byPoll {
		// Nothing queued, or dropped meanwhile (a halt, or a release at a
		// drain deadline), or the poll loop's turn.
		l.parked = !byPoll
		l.mu.Unlock()
		return nil, nil
	}
	if len(waiting) <= limit && l.qpayload <= cfg.MaxBytes {
		// All of it fits, as at a steady rate: the queue's totals are the
		// batch's.
		n, bytes, payload = len(waiting), l.qbytes, l.qpayload
	}
	for n < len(waiting) && n < limit {
		pb := payloadBytes(waiting[n])
		if n > 0 && payload+pb > cfg.MaxBytes {
			break
		}
		payload += pb
		bytes += recordBytes(waiting[n])
		n++
	}
	// Compaction below may overwrite the queue while the handler still
	// reads the batch, hence the copy.
	last = waiting[n-1]
	// The batch is a copy into the lane's own buffer, reused for the next
	// batch: the handler returns before the lane takes again, and may not
	// keep the slice (the Batch contract).
	batch = l.batch[:0]
	for _, r := range waiting[:n] {
		if !r.Attrs.IsControl() {
			batch = append(batch, r)
		}
	}
	l.batch = batch
	clear(waiting[:n])
	l.head += n
	// Compact once the taken prefix is half the queue: amortised O(1) per
	// record, and the backing array does not grow forever.
	if l.head == len(l.queue) {
		l.queue, l.head = l.queue[:0], 0
	} else if l.head > len(l.queue)/2 {
		rest := copy(l.queue, l.queue[l.head:])
		clear(l.queue[rest:])
		l.queue, l.head = l.queue[:rest], 0
	}
	l.qbytes -= bytes
	l.qpayload -= payload
	l.progress.at = time.Now()
	// Read under the same lock as the queue change: either flow saw the
	// queue before this take (and set paused, which this read sees), or it
	// sees the shorter queue. See flow.go.
	paused := l.paused
	l.mu.Unlock()

	l.p.bufRecs.Add(-int64(n))
	l.p.bufBytes.Add(-bytes)
	l.p.m.buffered(-int64(n), -bytes)
	if paused || l.p.pausedN.Load() > 0 {
		l.p.flow()
	}
	return batch, last
}

// fill waits up to wait for the queue to reach a batch bound. It returns
// false when the lane is stopped meanwhile.
func (l *lane) fill(wait time.Duration) bool {
	cfg := l.p.cfg.Batch
	l.timer.Reset(wait)
	defer l.timer.Stop()
	for {
		select {
		case <-l.signal:
			if n, b := l.size(); n >= cfg.MaxRecords || b >= cfg.MaxBytes {
				return true
			}
		case <-l.timer.C:
			return true
		case <-l.stopCh:
			return false
		}
	}
}

// complete marks the records up to last finished. A sub-lane marks its
// current batch's records in the partition's offset window, whose lowest
// unfinished offset is then the partition's to commit (keyed.go).
func (l *lane) complete(last *kgo.Record) {
	if l.parent != nil {
		if eo, ok := l.parent.k.finished(l, last); ok {
			l.parent.completeAt(eo)
		}
		return
	}
	l.completeAt(kgo.EpochOffset{Epoch: last.LeaderEpoch, Offset: last.Offset + 1})
}

// completeAt marks every record before eo finished, when the lane still
// owns its partition, and commits at once in batch mode. A lane that was
// released meanwhile drops the completion: another member may own the
// partition now.
func (l *lane) completeAt(eo kgo.EpochOffset) {
	p := l.p
	p.mu.Lock()
	owned := p.lanes[l.key()] == l
	if owned {
		l.finish(eo)
	}
	p.mu.Unlock()
	if !owned || p.cfg.Commit.Mode != CommitBatch {
		return
	}
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	// Group commit: while this lane waited for commitMu, the holder may
	// already have committed its offset (nothing left to do); otherwise one
	// commit carries every owned lane's finished offset, so lanes finishing
	// together share one round trip instead of queueing for one each.
	p.mu.Lock()
	_, ok := l.uncommitted()
	owned = p.lanes[l.key()] == l
	offsets := map[topicPart]kgo.EpochOffset{}
	if ok && owned {
		for tp, o := range p.lanes {
			if eo, ok := o.uncommitted(); ok {
				offsets[tp] = eo
			}
		}
	}
	p.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Rebalance.DrainTimeout+5*time.Second)
	defer cancel()
	if err := p.commitOffsets(ctx, offsets); err != nil {
		p.log.Warn("batch commit failed; the next commit includes it", "partition", l.label(), "err", err)
	}
}
