package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/pkg/kafka"
)

// exactly_once: the member's client is a kgo.GroupTransactSession, and the
// poll loop runs the transactions.
//
//   - Begin when the client connects and after every end.
//   - After each poll has been pushed into the lanes, the poll loop checks
//     whether the transaction is due. Once processor.transaction.interval
//     has passed (or max_records were fetched), it stops polling, holds
//     the lanes (quiesce.go: each finishes the handler call it is in and
//     starts no other) and waits until no call runs (the
//     barrier), then End(TryCommit): franz-go flushes the handler's writes,
//     commits the offsets in the transaction — each partition's up to what
//     its lane finished (preCommit; a halted one is taken out) — and commits
//     it. No record is produced while End runs. What was fetched and not yet
//     handled stays queued for the next transaction, which releases the
//     lanes when it begins; so the barrier lasts one handler call, not a
//     whole poll's work.
//   - Rebalances are allowed before the barrier (AllowRebalance comes
//     first), so a slow barrier never holds up the group. A revoke or a
//     loss during the transaction makes the session abort it at End and
//     rewind every partition to the committed offsets (franz-go; End is
//     never called from a rebalance callback). The engine then drops every
//     lane but the halted ones, so the rewound records reach fresh lanes.
//   - A halt requests an abort: the whole transaction's output is
//     discarded, the halted partition stays halted at its committed offset
//     (no halt note is committed: nothing past that offset was), and the
//     others redo their work in the next transaction.
//   - An End or Begin error leaves the outcome unknown (franz-go #1052,
//     #1207: End can fail after the commit went through): the engine
//     assumes neither outcome; run ends without another End, and Run
//     starts again with a new client under the same transactional id, whose
//     initialisation fences the old producer and settles its transaction,
//     and which reads the group's committed offsets afresh.
//   - Shutdown: the barrier with processor.shutdown_timeout, then a final
//     End; a barrier not reached in time aborts instead.
//   - Offsets are committed nowhere else: commitOffsets does nothing.

// errRecreate ends run so that Run connects a new client.
var errRecreate = errors.New("the outcome of ending or beginning a transaction is unknown")

// transact is the state of exactly_once. The poll loop owns every field but
// cl, abort and q (each safe for the lanes to use).
type transact struct {
	p  *Processor
	id string
	// cl is the current session's client, for handlers (TransactClient).
	cl    atomic.Pointer[kgo.Client]
	abort atomic.Bool // a lane halted: the transaction must abort
	// q holds the lanes' handler calls from the barrier until the next
	// transaction begins (none after the last one).
	q quiesce

	sess    *kgo.GroupTransactSession
	open    bool // a transaction is begun
	unknown bool // the last End or Begin failed: do not End again
	began   time.Time
	records int
	member  *string // the lanes' member id when the transaction began
}

// connect connects the member's client: a plain one, or with exactly_once
// a transactional session with a transaction begun.
func (p *Processor) connect(ctx context.Context) (*kgo.Client, error) {
	if p.cfg.Guarantee != ExactlyOnce {
		return kafka.Connect(ctx, p.kcfg, p.clientOptions()...)
	}
	if p.txn == nil {
		p.txn = &transact{p: p, id: TransactionalID(p.cfg)}
		if p.txn.id == "" {
			// No stable identity: correct still (KIP-447 fences by group
			// generation), but a crash leaves its transaction open until
			// processor.transaction.timeout.
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			p.txn.id = p.cfg.Group.ID + "-" + hex.EncodeToString(b)
		}
		p.m.transactionsKnown()
	}
	t := p.txn
	opts := append(p.clientOptions(), kgo.TransactionalID(t.id), kgo.TransactionTimeout(p.cfg.Transaction.Timeout))
	s, err := kafka.ConnectSession(ctx, p.kcfg, opts...)
	if err != nil {
		return nil, err
	}
	t.sess, t.unknown = s, false
	t.cl.Store(s.Client())
	if err := t.begin(); err != nil {
		s.Close()
		return nil, err
	}
	return s.Client(), nil
}

// TransactClient returns, inside a Handle call of a processor with
// exactly_once, the client whose writes join the running transaction:
// records produced through it (Produce, ProduceSync) become visible to
// read_committed readers together with the input offsets, or never. It
// returns nil for any other context. Never begin, end, flush or close it: the
// engine does. A handler that produces must wait for its records'
// acknowledgements before returning, and must not have produced a record it
// reports failed (a retry would write it again in the same transaction).
func TransactClient(ctx context.Context) *kgo.Client {
	t, _ := ctx.Value(txnKey{}).(*transact)
	if t == nil {
		return nil
	}
	return t.cl.Load()
}

type txnKey struct{}

// laneContext is the parent of a lane's context: it carries the
// transaction state under exactly_once, for TransactClient.
func (p *Processor) laneContext() context.Context {
	if p.txn == nil {
		return context.Background()
	}
	return context.WithValue(context.Background(), txnKey{}, p.txn)
}

// pollContext bounds a poll under exactly_once by the time the open
// transaction is due to end: a poll blocks until records come, and without
// the bound a transaction whose partitions had nothing more to fetch never
// ended, keeping its output invisible to read_committed readers (and its
// offsets uncommitted) until the next record arrived. A poll cut short
// returns no records; the poll loop then ends the transaction.
func (p *Processor) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	t := p.txn
	if t == nil || !t.open {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, t.began.Add(p.cfg.Transaction.Interval))
}

// halted is called when a lane halts: the transaction aborts at the next
// poll.
func (t *transact) halted() { t.abort.Store(true) }

func (t *transact) begin() error {
	if err := t.sess.Begin(); err != nil {
		t.unknown = true
		return fmt.Errorf("%w: beginning a transaction: %w", errRecreate, err)
	}
	t.open, t.began, t.records = true, time.Now(), 0
	t.member = t.p.member.Load()
	t.q.release()
	return nil
}

// afterPoll runs in the poll loop once a poll's records are in the lanes
// and rebalances are allowed again: it ends the transaction when it is
// due. An unknown outcome cancels the run with errRecreate.
func (t *transact) afterPoll(ctx context.Context, fetches kgo.Fetches, cancel context.CancelCauseFunc) {
	t.records += fetches.NumRecords()
	c := t.p.cfg.Transaction
	abort := t.abort.Load()
	if !abort && time.Since(t.began) < c.Interval && (c.MaxRecords == 0 || t.records < c.MaxRecords) {
		return
	}
	if !abort && t.records == 0 && !t.q.worked() {
		// Nothing fetched and no handler call (the lanes may still hold
		// records fetched in an earlier transaction), so nothing produced
		// or to commit: the empty transaction stays open (it has no state
		// on the brokers yet) rather than costing four requests per
		// interval while idle.
		t.began = time.Now()
		return
	}
	if err := t.end(ctx, !abort, c.Timeout/2, true); err != nil {
		cancel(err)
	}
}

// finish ends the open transaction at shutdown: committed when every lane
// finishes within processor.shutdown_timeout, aborted otherwise.
func (t *transact) finish(cause error) {
	if t.unknown || !t.open {
		return
	}
	commit := !t.abort.Load() && !errors.Is(cause, ErrFenced)
	if err := t.end(context.Background(), commit, t.p.cfg.ShutdownTimeout, false); err != nil {
		t.p.log.Error("ending the last transaction at shutdown; its outcome is unknown (the next member with this transactional id settles it)", "err", err)
	}
}

// end ends the transaction, committing when commit is true and the barrier
// is reached within wait, and begins the next one when again is true.
func (t *transact) end(ctx context.Context, commit bool, wait time.Duration, again bool) error {
	p := t.p
	// Bounded by wait and the timeout below: liveness judges it only past
	// both (health.go); the lanes' own progress is judged meanwhile.
	p.health.awaiting(time.Now().Add(wait + p.cfg.Transaction.Timeout))
	defer func() { p.health.working(time.Now()) }()
	if commit && !t.barrier(wait) {
		commit = false
		if !t.abort.Load() {
			p.log.Warn("aborting a transaction: a handler call was still running at its end after half of processor.transaction.timeout; make handler calls shorter (processor.batch.max_records, handler.timeout) or raise processor.transaction.timeout",
				"waited", wait)
		}
	}
	if m := p.member.Load(); commit && t.member != nil && m != nil && *m != *t.member {
		commit = false // the lanes belong to a newer membership (rejoin.go)
	}
	if !commit {
		// Before the abort: no lane may produce while it runs, nor take
		// the failures it causes for its own.
		p.resetLanes()
	}
	// Not ctx: cancelling End midway leaves its outcome unknown.
	ectx, cancel := context.WithTimeout(context.Background(), p.cfg.Transaction.Timeout)
	defer cancel()
	try := kgo.TryAbort
	if commit {
		try = kgo.TryCommit
	}
	committed, err := t.sess.End(kgo.PreTxnCommitFnContext(ectx, t.preCommit), try)
	t.open = false
	t.abort.Store(false)
	if err != nil {
		t.unknown = true
		p.m.transaction("unknown")
		return fmt.Errorf("%w: ending a transaction: %w", errRecreate, err)
	}
	if committed {
		p.m.transaction("committed")
	} else {
		p.m.transaction("aborted")
		if commit {
			// A rebalance made the session abort; it rewound every
			// partition to the committed offsets.
			p.resetLanes()
		}
	}
	if !again || ctx.Err() != nil {
		return nil
	}
	return t.begin()
}

// barrier holds the lanes and waits until no handler call runs, at most
// wait; it returns false on timeout or on an abort request. The lanes stay
// held until the next transaction begins. It polls every 200µs: a wake-up
// on each call's end would need a channel per call.
func (t *transact) barrier(wait time.Duration) bool {
	t.q.hold()
	deadline := time.Now().Add(wait)
	for {
		if t.abort.Load() {
			return false
		}
		if t.q.idle() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// preCommit edits the transaction's offset commit just before it is sent:
// it refuses one stamped with another member id than the lanes' (as
// preCommit does for plain commits), takes out halted partitions and those
// without a lane or with nothing finished, and caps each partition at what
// its lane finished — every handler call since the transaction began wrote
// into it — so fetched records still queued are not committed unhandled:
// franz-go then counts what was sent as committed, and an abort rewinds to
// it. It runs under franz-go's
// transaction lock and takes only p.mu and lane locks.
func (t *transact) preCommit(req *kmsg.TxnOffsetCommitRequest) error {
	p := t.p
	if m := p.member.Load(); m != nil && req.MemberID != *m {
		return errNewMember
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range req.Topics {
		tp := &req.Topics[i]
		keep := tp.Partitions[:0]
		for _, pr := range tp.Partitions {
			key := topicPart{tp.Topic, pr.Partition}
			l := p.lanes[key]
			if l == nil {
				continue
			}
			l.mu.Lock()
			halted, fin, has := l.halted, l.finished, l.hasFinish
			l.mu.Unlock()
			if halted || !has {
				continue
			}
			if fin.Offset < pr.Offset {
				pr.Offset, pr.LeaderEpoch = fin.Offset, fin.Epoch
			}
			keep = append(keep, pr)
		}
		tp.Partitions = keep
	}
	return nil
}

// resetLanes drops every lane but the halted ones, commits nothing for
// them, and resumes their partitions: after an abort, the client reads
// them again from the committed offsets into fresh lanes. A dropped lane's
// running call is cancelled; the partition's next lane waits for it.
func (p *Processor) resetLanes() {
	var lanes []*lane
	p.mu.Lock()
	for part, l := range p.lanes {
		l.mu.Lock()
		halted := l.halted
		l.mu.Unlock()
		if !halted {
			lanes = append(lanes, l)
			delete(p.lanes, part)
		}
	}
	p.mu.Unlock()
	if len(lanes) == 0 {
		return
	}
	parts := map[string][]int32{}
	for _, l := range lanes {
		l.stopNow()
		p.forget(l)
		parts[l.topic] = append(parts[l.topic], l.part)
	}
	p.cl.ResumeFetchPartitions(parts)
}

// transactionsKnown creates the transaction counters at 0, so each series
// exists from the first scrape.
func (i *instruments) transactionsKnown() {
	if i.m != nil {
		for _, o := range []string{"committed", "aborted", "unknown"} {
			i.m.Transactions.WithLabelValues(i.group, o)
		}
	}
}

// transaction counts an ended transaction by outcome.
func (i *instruments) transaction(outcome string) {
	if i.m != nil {
		i.m.Transactions.WithLabelValues(i.group, outcome).Inc()
	}
}
