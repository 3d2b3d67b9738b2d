package processor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// keyed runs one partition's records on sub-lanes, in key and none
// ordering. The partition's lane stays what the rest of the engine sees
// (ownership, the poll loop's queue, pausing, halting, commits); its
// goroutine becomes a dispatcher that takes records from the queue into
// the partition's offset window (window.go) and routes each to one of
// processor.concurrency sub-lanes. A sub-lane is a lane of its own (queue,
// batching, retries, timeouts, dead letters, one handler call at a time)
// whose completions, halts and progress go to the partition's lane:
//
//	poll loop → lane queue → dispatcher ─┬→ sub-lane 0 → handler
//	            (pauses when full)  │    ├→ sub-lane 1 → handler
//	                        offset window └→ sub-lane n → handler
//	                        (commit = lowest unfinished)
//
// Routing, in key ordering: a record with a key goes to the sub-lane its
// salted key hash names (keyHash), so a key's records stay in offset order,
// one call at a time; a record without a key has no order to keep and goes
// to the next sub-lane round-robin, as Decaton does. In none ordering every
// record goes round-robin. A sub-lane's batch holds records of the keys
// that hash to it, in offset order, within processor.batch's bounds.
//
// Why records of one sub-lane wait for each other: the sub-lane is the unit
// of one call at a time. A key that fails and retries holds the keys that
// share its sub-lane (1/concurrency of them), never the other sub-lanes.
type keyed struct {
	l     *lane
	order Ordering
	subs  []*lane
	rr    int             // the next sub-lane for round-robin routing
	pend  [][]*kgo.Record // per sub-lane records of one dispatch round
	freed chan struct{}   // a sub-lane finished records (capacity 1)

	mu       sync.Mutex
	win      window
	reported int64 // the highest commit offset handed to the lane, -1 for none
	haltAt   int64 // the lowest offset a sub-lane halted on, -1 for none
	gone     bool  // released: the gauges are not set again

	// pushMu orders handing records to sub-lanes with cutting their queues
	// at a halt; halting is set (before the cut) once a sub-lane halted.
	// Pushing outside mu keeps completions from waiting on a dispatch.
	pushMu  sync.Mutex
	halting atomic.Bool
}

// observeEvery is how often the window's gauges are sampled.
const observeEvery = time.Second

func newKeyed(l *lane) *keyed {
	p := l.p
	n := max(p.cfg.Concurrency, 1)
	k := &keyed{
		l: l, order: p.cfg.Ordering, subs: make([]*lane, n), pend: make([][]*kgo.Record, n),
		freed: make(chan struct{}, 1), haltAt: -1, reported: -1,
	}
	for i := range k.subs {
		s := newLane(p, l.topic, l.part)
		// The sub-lane's handler calls end when the partition's lane is
		// abandoned: its context derives from the lane's.
		s.cancel()
		s.ctx, s.cancel = context.WithCancel(l.ctx)
		s.parent = l
		k.subs[i] = s
	}
	return k
}

// run is the partition lane's goroutine in key and none ordering: it
// dispatches until the lane is stopped, then stops every sub-lane and
// returns once each has handled every record it was handed (or, abandoned
// at a drain deadline, its current call has returned), so the partition's
// next lane, which waits for this one's done, never overlaps a call of it.
//
// Why a stopped sub-lane drains its queue instead of finishing only its
// current batch, as a partition's lane does: the commit is the lowest
// unfinished offset, so one record dropped from a sub-lane's queue holds
// the commit below every record the other sub-lanes finished above it, and
// the next owner would redo them all (up to max_in_flight per partition,
// at every graceful rebalance). Draining what was dispatched, and nothing
// more from the partition's queue, leaves the window finished: the commit
// is just past the last record dispatched, as a partition's lane commits
// just past its last batch. The drain deadline bounds it as before.
func (k *keyed) run() {
	l := k.l
	for _, s := range k.subs {
		go s.run()
	}
	defer func() {
		for _, s := range k.subs {
			s.stop()
		}
		for _, s := range k.subs {
			<-s.done
		}
	}()
	tick := time.NewTicker(observeEvery)
	defer tick.Stop()
	for {
		if l.stopped() {
			return
		}
		if room := k.room(); room > 0 {
			if batch, last := l.takeQueued(min(room, l.p.cfg.Batch.MaxRecords)); last != nil {
				k.dispatch(batch, last)
				clear(batch) // the sub-lanes hold them now (see lane.run)
				select {
				case <-tick.C:
					k.observe()
				default:
				}
				continue
			}
		}
		select {
		case <-l.signal:
		case <-k.freed:
		case <-tick.C:
			k.observe()
		case <-l.stopCh:
			return
		}
	}
}

// stopTake is take's answer once l is stopped: nothing for a partition's
// lane; for a sub-lane, the next batch of its queue without waiting for a
// batch bound (nil once the queue is empty, or the partition's lane was
// abandoned at a drain deadline or lost: its context is cancelled), so it
// hands over everything it was dispatched before it returns (see run).
func (l *lane) stopTake() (batch []*kgo.Record, last *kgo.Record) {
	if l.parent == nil || l.ctx.Err() != nil {
		return nil, nil
	}
	return l.takeQueued(l.p.cfg.Batch.MaxRecords)
}

// room is how many more records the window takes.
func (k *keyed) room() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.l.p.cfg.MaxInFlight - k.win.span()
}

// dispatch takes batch into the window and hands each record to its
// sub-lane; last is the last record taken (a transaction marker may follow
// the batch). Pushing under pushMu, after checking halting, orders it with
// halt: no record past a halt reaches a sub-lane after halt cut their
// queues (a record dispatched after a halt is past it: the halted record
// was dispatched before).
func (k *keyed) dispatch(batch []*kgo.Record, last *kgo.Record) {
	now := time.Now().UnixNano()
	k.mu.Lock()
	for _, r := range batch {
		k.win.add(r.Offset, r.LeaderEpoch, now)
		i := k.route(r)
		k.pend[i] = append(k.pend[i], r)
	}
	k.win.advance(last.Offset, last.LeaderEpoch)
	eo, moved := k.lowMoved()
	k.mu.Unlock()
	k.pushMu.Lock()
	for i, recs := range k.pend {
		if len(recs) > 0 {
			if !k.halting.Load() {
				k.subs[i].push(recs)
			}
			clear(recs)
			k.pend[i] = recs[:0]
		}
	}
	k.pushMu.Unlock()
	if moved {
		// Only transaction markers taken, every record before them
		// finished: the commit may move past them.
		k.l.completeAt(eo)
	}
}

// lowMoved returns the window's commit offset and whether it moved past
// the last one reported; k.mu must be held. Only a completion that moves
// it needs the lane (and the processor's lock): with many sub-lanes, most
// completions are above the lowest unfinished record.
func (k *keyed) lowMoved() (kgo.EpochOffset, bool) {
	eo, ok := k.win.low()
	if !ok || eo.Offset <= k.reported {
		return eo, false
	}
	k.reported = eo.Offset
	return eo, true
}

// route names r's sub-lane; k.mu must be held.
func (k *keyed) route(r *kgo.Record) int {
	if k.order == OrderKey && r.Key != nil {
		return int(keyHash(r.Key) % uint64(len(k.subs)))
	}
	i := k.rr
	if k.rr++; k.rr == len(k.subs) {
		k.rr = 0
	}
	return i
}

// finished marks the records of s's current batch up to last finished and
// returns the partition's new commit offset, when it moved.
func (k *keyed) finished(s *lane, last *kgo.Record) (kgo.EpochOffset, bool) {
	k.mu.Lock()
	for _, r := range s.batch {
		if r.Offset > last.Offset {
			break
		}
		k.win.finish(r.Offset)
	}
	eo, ok := k.lowMoved()
	k.mu.Unlock()
	select {
	case k.freed <- struct{}{}:
	default:
	}
	return eo, ok
}

// halt stops the partition because r failed every attempt on a sub-lane.
// The partition halts at the lowest unfinished offset: no record past r is
// handed to a handler any more (the sub-lanes' queues are cut at r), the
// records before r that other sub-lanes hold are still handled, so the
// commit reaches r and notes the halt there, as in partition ordering. A
// later failure below r moves the halt down to it.
func (k *keyed) halt(r *kgo.Record, cause error, attempts int) {
	l, p := k.l, k.l.p
	k.mu.Lock()
	if k.haltAt >= 0 && r.Offset >= k.haltAt {
		k.mu.Unlock()
		return
	}
	first := k.haltAt < 0
	k.haltAt = r.Offset
	k.halting.Store(true)
	k.mu.Unlock()
	k.pushMu.Lock()
	for _, s := range k.subs {
		k.cut(s, r.Offset)
	}
	k.pushMu.Unlock()
	if first {
		l.haltPartition(r, cause, attempts)
		return
	}
	l.mu.Lock()
	lower := l.halted && !l.haltNoted && r.Offset < l.haltedAt.Offset
	if lower {
		l.haltedAt = Halt{Topic: l.topic, Partition: r.Partition, Offset: r.Offset, Attempts: attempts, Err: cause.Error(), Since: time.Now()}
	}
	l.mu.Unlock()
	if lower {
		l.m.haltedAt(r.Partition, r.Offset)
		p.log.Error("partition halted at a lower offset: another key's record failed all attempts",
			"partition", l.label(), "offset", r.Offset, "attempts", attempts, "err", cause)
	}
}

// cut drops the records of s's queue past off, with their share of the
// buffer accounting.
func (k *keyed) cut(s *lane, off int64) {
	s.mu.Lock()
	waiting := s.queue[s.head:]
	i := len(waiting)
	for i > 0 && waiting[i-1].Offset > off {
		i--
	}
	var bytes, payload int64
	for _, r := range waiting[i:] {
		bytes += recordBytes(r)
		payload += payloadBytes(r)
	}
	n := int64(len(waiting) - i)
	clear(waiting[i:])
	s.queue = s.queue[:s.head+i]
	s.qbytes -= bytes
	s.qpayload -= payload
	s.mu.Unlock()
	p := k.l.p
	p.bufRecs.Add(-n)
	p.bufBytes.Add(-bytes)
	p.m.buffered(-n, -bytes)
}

// forget retires the sub-lanes of a released partition and drops what
// they queue; p.forget calls it.
func (k *keyed) forget() {
	k.mu.Lock()
	k.gone = true
	k.mu.Unlock()
	for _, s := range k.subs {
		s.retire()
		k.l.p.dropQueued(s)
	}
}

// observe samples the window's gauges: records in flight, the age of the
// oldest unfinished one, and the records waiting in sub-lane queues.
func (k *keyed) observe() {
	if k.l.m.m == nil {
		return
	}
	waiting := 0
	for _, s := range k.subs {
		n, _ := s.size()
		waiting += n
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gone {
		return
	}
	var age time.Duration
	if at, ok := k.win.oldest(); ok {
		age = time.Since(time.Unix(0, at))
	}
	k.l.m.window(k.l.part, k.win.pending, age, waiting)
}

// routeSeed is the state of the routing hash after its salt.
var routeSeed = fnv1a(fnvOffset, []byte("veltrix/key-route/"))

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv1a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// keyHash is the routing hash of a key: FNV-1a of a salted key, then
// murmur3's 64-bit finaliser. Both matter. The keys of one partition are
// not random: the producer chose the partition from a hash of the key
// (murmur2 modulo the partition count in the Java client and franz-go,
// FNV-1a in Sarama), so the same hash modulo the sub-lane count would send
// them to a fraction of the sub-lanes whenever the two counts share a factor
// (6 partitions and 32 sub-lanes: half of them). A different, salted hash
// breaks that tie, as Decaton's prefixed murmur2 does; and the finaliser is
// needed because FNV-1a's low bits depend only on the input's low bits (a
// salted FNV-1a's parity is the unsalted one's, flipped or not), so without
// it Sarama's FNV-1a partitioning would still leave half the sub-lanes idle.
func keyHash(key []byte) uint64 {
	h := fnv1a(routeSeed, key)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
