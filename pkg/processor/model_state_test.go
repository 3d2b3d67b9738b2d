package processor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the model of the model-based engine test (model_test.go):
// what the handler was given and finished, which member owns what from the
// requests the cluster saw, and the invariants checked against both.

// behKind is what one scripted handler call does.
type behKind int

const (
	behOK       behKind = iota // succeed at once
	behFail                    // fail the whole batch
	behPartial                 // return *RecordErrors naming some records
	behPanic                   // panic
	behSlow                    // succeed after a few milliseconds
	behHang                    // ignore ctx past handler.timeout, then succeed
	behBlock                   // wait for ctx (the timeout or a revoke) and return its error
	behTypedNil                // return a typed-nil *RecordErrors
	behLongHang                // ignore ctx longer than the shutdown bound, then succeed
)

var behNames = [...]string{"ok", "fail", "partial", "panic", "slow", "hang", "block", "typednil", "longhang"}

func (k behKind) String() string { return behNames[k] }

// behaviour is one scripted handler call.
type behaviour struct {
	kind behKind
	d    time.Duration // how long slow, hang and longhang calls take
	mask uint64        // which records a partial failure names
}

func (b behaviour) String() string {
	switch b.kind {
	case behSlow, behHang, behLongHang:
		return fmt.Sprintf("%s(%s)", b.kind, b.d)
	case behPartial:
		return fmt.Sprintf("partial(%#x)", b.mask)
	}
	return b.kind.String()
}

// names reports whether a partial failure names the record at index i of
// a batch of n; at least one record is always named.
func (b behaviour) names(i, n int) bool {
	if i == int(b.mask%uint64(n)) {
		return true
	}
	h := (b.mask ^ uint64(i)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	return h>>63 == 1
}

var errModel = errors.New("model: scripted handler failure")

// recState is what the handlers did to one record, across every member.
type recState struct {
	done      bool // a call that included it returned success for it
	fails     int  // calls that returned a failure for it (errors, panics)
	timeouts  int  // calls that outlived handler.timeout (a downstream stall)
	delivered bool // some call was handed it
}

// partModel is the model of one partition.
type partModel struct {
	produced  int64       // acknowledged records: offsets [0, produced)
	recs      []recState  // by offset
	resolved  int64       // every offset below is resolved
	nextFirst int64       // offsets below were delivered at least once
	script    []behaviour // behaviours of the next calls, in order

	// In key ordering, each key's offsets in produce order, and how many
	// of them were delivered at least once (a prefix, when the engine
	// keeps the key's order).
	keyOffs  map[string][]int64
	keyFirst map[string]int
}

func (pm *partModel) rec(off int64) *recState {
	for int64(len(pm.recs)) <= off {
		pm.recs = append(pm.recs, recState{})
	}
	return &pm.recs[off]
}

// resolvedUpTo is the highest offset a commit may carry: every record
// below it finished, or, under skip, failed enough to be given up on. A
// record that only ever timed out was never given up on by a correct
// engine (a timeout means the downstream stalled, not that the record is
// poison), and a cancelled call (a revoke) counts for nothing.
func (pm *partModel) resolvedUpTo(skip bool, attempts int) int64 {
	for pm.resolved < int64(len(pm.recs)) {
		r := pm.recs[pm.resolved]
		if !r.done && (!skip || r.fails < 1 || r.fails+r.timeouts < attempts) {
			break
		}
		pm.resolved++
	}
	return pm.resolved
}

// memberModel is one Processor incarnation, named by its client id.
type memberModel struct {
	name     string
	inflight map[int32]int
	// keys counts, per partition, the running calls of this member whose
	// batch holds each key (key ordering).
	keys map[int32]map[string]int
}

func newMemberModel(name string) *memberModel {
	return &memberModel{name: name, inflight: map[int32]int{}, keys: map[int32]map[string]int{}}
}

// memberView is what the group coordinator saw of one member id: the
// partitions it may commit for. A member owns what it reported owning in
// its last JoinGroup (franz-go reports its owned partitions there, after
// its revoke or lost callback returned; nothing for an eager member),
// plus what any SyncGroup since assigned it. A sync the coordinator
// rejected only makes the set larger, so the check never blames a commit
// the member was entitled to.
type memberView struct {
	allowed map[int32]bool
	left    bool
}

// model is the shared state of one test case. Handlers, the cluster's
// control functions and the pause monitors update it concurrently.
type model struct {
	topic    string
	topicID  [16]byte
	skip     bool // on_failure is skip
	attempts int
	start    time.Time
	// ordering is the engine's processor.ordering ("" is partition) and
	// concurrency its processor.concurrency: which calls may overlap on a
	// partition, and in which order its records are first delivered.
	ordering    Ordering
	concurrency int

	mu         sync.Mutex
	parts      []*partModel
	members    map[string]*memberView // by member id
	names      map[string]string      // member id to client id, for messages
	healed     bool                   // every call succeeds from now on
	inflight   int                    // handler calls running, all members
	violations []string
	events     []string // the most recent, oldest first
	after      int      // events logged since the first violation
	stats      modelStats
}

// modelStats are counts reported by the test, summed over cases.
type modelStats struct {
	cases, steps, calls, records, commits, joins, syncs int
	failures, timeouts, panics, losses, stalls          int
	// overlapped counts calls that began while another call of the same
	// member on the same partition was running (key and none ordering).
	overlapped int
	// keyCases and noneCases count the cases in key and none ordering.
	keyCases, noneCases int
}

func (s *modelStats) add(o modelStats) {
	s.cases += o.cases
	s.steps += o.steps
	s.calls += o.calls
	s.records += o.records
	s.commits += o.commits
	s.joins += o.joins
	s.syncs += o.syncs
	s.failures += o.failures
	s.timeouts += o.timeouts
	s.panics += o.panics
	s.losses += o.losses
	s.stalls += o.stalls
	s.overlapped += o.overlapped
	s.keyCases += o.keyCases
	s.noneCases += o.noneCases
}

func newModel(topic string, partitions int, skip bool, attempts int) *model {
	m := &model{
		topic: topic, skip: skip, attempts: attempts, start: time.Now(),
		members: map[string]*memberView{}, names: map[string]string{},
	}
	for range partitions {
		m.parts = append(m.parts, &partModel{})
	}
	return m
}

// The event log keeps the last maxEvents events before the first
// violation (VELTRIX_MODEL_EVENTS overrides it) and maxAfter after it, so
// that a report shows what led to it.
var maxEvents = func() int {
	if n, err := strconv.Atoi(os.Getenv("VELTRIX_MODEL_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 300
}()

const maxAfter = 30

// eventLocked appends to the event log; m.mu must be held.
func (m *model) eventLocked(format string, args ...any) {
	if len(m.violations) > 0 {
		if m.after >= maxAfter {
			return
		}
		m.after++
	}
	if len(m.events) == maxEvents {
		m.events = append(m.events[:0], m.events[1:]...)
	}
	m.events = append(m.events, fmt.Sprintf("%7.3fs ", time.Since(m.start).Seconds())+fmt.Sprintf(format, args...))
}

func (m *model) event(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eventLocked(format, args...)
}

// ignoredInvariants are named in VELTRIX_MODEL_IGNORE: their violations
// are logged as events and fail nothing. It is a diagnosis aid, to see
// what else breaks behind a known failure; CI sets none.
var ignoredInvariants = func() map[string]bool {
	out := map[string]bool{}
	for _, name := range strings.Split(os.Getenv("VELTRIX_MODEL_IGNORE"), ",") {
		out[strings.TrimSpace(name)] = true
	}
	return out
}()

// violateLocked records a broken invariant; m.mu must be held.
func (m *model) violateLocked(invariant, format string, args ...any) {
	msg := fmt.Sprintf("INVARIANT %s: ", invariant) + fmt.Sprintf(format, args...)
	if ignoredInvariants[invariant] {
		m.eventLocked("ignored %s", msg)
		return
	}
	m.eventLocked("%s", msg)
	m.violations = append(m.violations, msg)
}

func (m *model) violate(invariant, format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.violateLocked(invariant, format, args...)
}

// firstViolation returns the invariant the first violation broke.
func (m *model) firstViolation() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.violations) == 0 {
		return "", false
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(m.violations[0], "INVARIANT "), ":")
	return name, true
}

func (m *model) failed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.violations) > 0
}

// report renders the violations with the event log that led to them.
func (m *model) report() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString(strings.Join(m.violations, "\n"))
	b.WriteString("\n\nmember ids: ")
	ids := make([]string, 0, len(m.names))
	for id := range m.names {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "%s=%s ", short(id), m.names[id])
	}
	b.WriteString("\n\nlast events (seconds since the case started):\n")
	b.WriteString(strings.Join(m.events, "\n"))
	return b.String()
}

// short abbreviates a member id for the event log.
func short(id string) string {
	if i := strings.LastIndexByte(id, '-'); i >= 0 && len(id)-i > 5 {
		return id[:min(len(id), i+5)]
	}
	return id
}

// script appends behaviours for partition part's next calls.
func (m *model) script(part int32, bs []behaviour) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pm := m.parts[part]
	pm.script = append(pm.script, bs...)
}

// heal makes every later call succeed, for the final drain.
func (m *model) heal() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.healed = true
	for _, pm := range m.parts {
		pm.script = nil
	}
	m.eventLocked("healed: every call succeeds from now on")
}

// producing notes the keys (nil for none) of records about to be
// produced to part and returns the offset the first will get: the test
// produces to each partition from one client, one call at a time, so the
// offsets follow the last acknowledged one. The keys are noted before the
// records are written, since a member may be handed them before the
// producer sees them acknowledged.
func (m *model) producing(part int32, keys [][]byte) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	pm := m.parts[part]
	base := pm.produced
	for i, key := range keys {
		if key == nil {
			continue
		}
		if pm.keyOffs == nil {
			pm.keyOffs, pm.keyFirst = map[string][]int64{}, map[string]int{}
		}
		k := string(key)
		pm.keyOffs[k] = append(pm.keyOffs[k], base+int64(i))
	}
	return base
}

// produced records that the records of part below upTo are acknowledged.
func (m *model) produced(part int32, upTo int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pm := m.parts[part]
	pm.produced = max(pm.produced, upTo)
	pm.rec(upTo - 1)
}

// begin is the start of a handler call: it checks the single-call,
// ordering and first-delivery invariants and returns the scripted
// behaviour.
//
// What may overlap and which order is kept depends on the ordering. In
// partition ordering a member runs one call at a time per partition and
// first delivers a partition's records in offset order, with no gaps. In
// key ordering it runs at most processor.concurrency calls at once per
// partition, never two holding the same key (one-call-per-key), and first
// delivers each key's records in offset order, with no gaps in the key's
// own offsets (order-of-first-deliveries); records without a key have no
// order. In none ordering only the concurrency bound holds.
func (m *model) begin(mm *memberModel, b *Batch) behaviour {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inflight++
	m.stats.calls++
	m.stats.records += len(b.Records)
	mm.inflight[b.Partition]++
	n := mm.inflight[b.Partition]
	switch {
	case !m.ordering.concurrent() && n > 1:
		m.violateLocked("one-call-per-partition", "%s started a call on partition %d while %d other call(s) of its own on that partition were still running", mm.name, b.Partition, n-1)
	case m.ordering.concurrent() && n > m.concurrency:
		m.violateLocked("concurrency-bound", "%s started call %d at once on partition %d, beyond processor.concurrency %d", mm.name, n, b.Partition, m.concurrency)
	}
	if n > 1 {
		m.stats.overlapped++
	}
	if len(b.Records) == 0 {
		m.violateLocked("batch-shape", "%s was handed an empty batch for partition %d", mm.name, b.Partition)
		return behaviour{}
	}
	pm := m.parts[b.Partition]
	if m.ordering == OrderKey {
		m.beginKeys(mm, b)
	}
	for i, r := range b.Records {
		if r.Partition != b.Partition || r.Topic != m.topic {
			m.violateLocked("batch-shape", "%s got %s/%d@%d in a batch for %s/%d", mm.name, r.Topic, r.Partition, r.Offset, m.topic, b.Partition)
		}
		if i > 0 && r.Offset <= b.Records[i-1].Offset {
			m.violateLocked("order", "%s got partition %d offsets out of order in one batch: %d after %d", mm.name, b.Partition, r.Offset, b.Records[i-1].Offset)
		}
		pm.rec(r.Offset).delivered = true
		if m.ordering.concurrent() {
			for pm.nextFirst < int64(len(pm.recs)) && pm.recs[pm.nextFirst].delivered {
				pm.nextFirst++
			}
			continue
		}
		switch {
		case r.Offset == pm.nextFirst:
			pm.nextFirst++
		case r.Offset > pm.nextFirst:
			m.violateLocked("order-of-first-deliveries", "%s got partition %d offset %d before offsets %d..%d were ever delivered", mm.name, b.Partition, r.Offset, pm.nextFirst, r.Offset-1)
			pm.nextFirst = r.Offset + 1
		}
	}
	beh := behaviour{}
	if len(pm.script) > 0 && !m.healed {
		beh, pm.script = pm.script[0], pm.script[1:]
	}
	m.eventLocked("%s call p%d [%d..%d] n=%d: %s", mm.name, b.Partition, b.Records[0].Offset, b.Records[len(b.Records)-1].Offset, len(b.Records), beh)
	return beh
}

// beginKeys checks a key-ordered call's keys and counts them running:
// one-call-per-key against the member's running calls on the partition,
// and each key's first deliveries in the key's offset order; m.mu must be
// held.
func (m *model) beginKeys(mm *memberModel, b *Batch) {
	pm := m.parts[b.Partition]
	running := mm.keys[b.Partition]
	if running == nil {
		running = map[string]int{}
		mm.keys[b.Partition] = running
	}
	seen := map[string]bool{}
	for _, r := range b.Records {
		if r.Key == nil {
			continue
		}
		k := string(r.Key)
		if !seen[k] {
			seen[k] = true
			if running[k] > 0 {
				m.violateLocked("one-call-per-key", "%s was handed key %q of partition %d (offset %d) while a call of its own holding that key was still running", mm.name, k, b.Partition, r.Offset)
			}
		}
		offs, i := pm.keyOffs[k], pm.keyFirst[k]
		switch {
		case i >= len(offs) || r.Offset < offs[i]:
			// A redelivery (or a record the model did not see produced,
			// which commit-finished and liveness report).
		case r.Offset == offs[i]:
			pm.keyFirst[k] = i + 1
		default:
			j, _ := slices.BinarySearch(offs, r.Offset)
			m.violateLocked("order-of-first-deliveries", "%s got partition %d key %q offset %d before the key's offsets %v were ever delivered", mm.name, b.Partition, k, r.Offset, offs[i:j])
			pm.keyFirst[k] = j + 1
		}
	}
	for k := range seen {
		running[k]++
	}
}

// outcome is how a call ended, as far as the model is concerned.
type outcome int

const (
	outDone      outcome = iota // every record finished
	outFailed                   // every record failed
	outPartial                  // the named records failed, the rest finished
	outTimeout                  // the call outlived handler.timeout
	outCancelled                // the partition was taken away
)

var outNames = [...]string{"done", "failed", "partial", "timeout", "cancelled"}

// end records a call's outcome.
func (m *model) end(mm *memberModel, b *Batch, beh behaviour, out outcome, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inflight--
	mm.inflight[b.Partition]--
	if len(b.Records) == 0 {
		return
	}
	if m.ordering == OrderKey {
		seen := map[string]bool{}
		for _, r := range b.Records {
			if k := string(r.Key); r.Key != nil && !seen[k] {
				seen[k] = true
				mm.keys[b.Partition][k]--
			}
		}
	}
	pm := m.parts[b.Partition]
	for i, r := range b.Records {
		rs := pm.rec(r.Offset)
		switch {
		case out == outDone, out == outPartial && !beh.names(i, len(b.Records)):
			rs.done = true
		case out == outFailed, out == outPartial:
			rs.fails++
		case out == outTimeout:
			rs.timeouts++
		}
	}
	switch out {
	case outFailed, outPartial:
		m.stats.failures++
	case outTimeout:
		m.stats.timeouts++
	}
	if beh.kind == behPanic {
		m.stats.panics++
	}
	m.eventLocked("%s end  p%d [%d..%d]: %s after %s", mm.name, b.Partition, b.Records[0].Offset, b.Records[len(b.Records)-1].Offset, outNames[out], took.Round(time.Millisecond))
}

func (m *model) inflightCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inflight
}

// modelHandler is one member's handler: it does what the model scripts and
// reports every call to the model.
type modelHandler struct {
	m    *model
	mm   *memberModel
	unit time.Duration // handler.timeout, or a stand-in without one
}

func (h *modelHandler) Handle(ctx context.Context, b *Batch) (err error) {
	beh := h.m.begin(h.mm, b)
	start := time.Now()
	out := outFailed // a panic fails the whole batch
	defer func() { h.m.end(h.mm, b, beh, out, time.Since(start)) }()
	switch beh.kind {
	case behOK:
		out = outDone
		return nil
	case behFail:
		return errModel
	case behPartial:
		var errs RecordErrors
		for i := range b.Records {
			if beh.names(i, len(b.Records)) {
				errs.Add(i, errModel)
			}
		}
		out = outPartial
		return errs.Err()
	case behPanic:
		panic("model: scripted handler panic")
	case behSlow, behHang, behLongHang:
		time.Sleep(beh.d) // deliberately deaf to ctx
		out = outDone
		return nil
	case behBlock:
		t := time.NewTimer(10 * h.unit)
		defer t.Stop()
		select {
		case <-ctx.Done():
			out = outCancelled
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				out = outTimeout
			}
			return ctx.Err()
		case <-t.C:
			return errModel // no timeout came (or there is none): an ordinary failure
		}
	case behTypedNil:
		// The contract says a *RecordErrors names the failed records; a
		// nil one names none, so the model counts the records finished
		// (the most lenient reading: whatever the engine makes of it,
		// short of crashing, passes the commit check).
		out = outDone
		var re *RecordErrors
		return re
	}
	return fmt.Errorf("model: unknown behaviour %d", beh.kind)
}

// The cluster side: control functions run on kfake's goroutine, in the
// order the cluster handles requests, and only observe (handled=false).

func (m *model) view(id string) *memberView {
	v, ok := m.members[id]
	if !ok {
		v = &memberView{allowed: map[int32]bool{}}
		m.members[id] = v
	}
	return v
}

func (m *model) onJoin(req *kmsg.JoinGroupRequest) {
	if req.MemberID == "" {
		return // a first join; it is answered with a member id to rejoin with
	}
	var owned []int32
	if len(req.Protocols) > 0 {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(req.Protocols[0].Metadata); err == nil {
			for _, o := range meta.OwnedPartitions {
				if o.Topic == m.topic {
					owned = append(owned, o.Partitions...)
				}
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.joins++
	v := m.view(req.MemberID)
	v.allowed = map[int32]bool{}
	for _, p := range owned {
		v.allowed[p] = true
	}
	slices.Sort(owned)
	m.eventLocked("join %s owning %v", short(req.MemberID), owned)
}

func (m *model) onSync(req *kmsg.SyncGroupRequest) {
	if len(req.GroupAssignment) == 0 {
		return // a follower's sync; the leader's carries the plan
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.syncs++
	var plan []string
	for _, a := range req.GroupAssignment {
		var ca kmsg.ConsumerMemberAssignment
		if err := ca.ReadFrom(a.MemberAssignment); err != nil {
			continue
		}
		v := m.view(a.MemberID)
		var got []int32
		for _, t := range ca.Topics {
			if t.Topic == m.topic {
				got = append(got, t.Partitions...)
			}
		}
		for _, p := range got {
			v.allowed[p] = true
		}
		slices.Sort(got)
		plan = append(plan, fmt.Sprintf("%s=%v", short(a.MemberID), got))
	}
	m.eventLocked("sync gen %d: %s", req.Generation, strings.Join(plan, " "))
}

func (m *model) onLeave(req *kmsg.LeaveGroupRequest) {
	ids := []string{req.MemberID}
	for _, mem := range req.Members {
		ids = append(ids, mem.MemberID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		if id == "" {
			continue
		}
		v := m.view(id)
		v.allowed, v.left = map[int32]bool{}, true
		m.eventLocked("leave %s", short(id))
	}
}

// onCommit checks a commit against ownership and against what finished.
func (m *model) onCommit(req *kmsg.OffsetCommitRequest) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.view(req.MemberID)
	for _, t := range req.Topics {
		if t.Topic != m.topic && t.TopicID != m.topicID {
			continue
		}
		for _, pc := range t.Partitions {
			m.stats.commits++
			m.eventLocked("commit %s gen %d p%d=%d", short(req.MemberID), req.Generation, pc.Partition, pc.Offset)
			if pc.Partition < 0 || int(pc.Partition) >= len(m.parts) {
				m.violateLocked("commit-owned", "commit for partition %d, which the topic does not have", pc.Partition)
				continue
			}
			if !v.allowed[pc.Partition] {
				what := "after its revoke or lost callback returned, or before it was assigned the partition"
				if v.left {
					what = "after it left the group"
				}
				m.violateLocked("commit-owned", "member %s committed partition %d (offset %d) %s", short(req.MemberID), pc.Partition, pc.Offset, what)
			}
			pm := m.parts[pc.Partition]
			if r := pm.resolvedUpTo(m.skip, m.attempts); pc.Offset > r {
				st := "never delivered"
				if r < int64(len(pm.recs)) {
					rs := pm.recs[r]
					st = fmt.Sprintf("done=%v, failed %d times, timed out %d times", rs.done, rs.fails, rs.timeouts)
				}
				m.violateLocked("commit-finished", "member %s committed partition %d up to offset %d, but record %d is not finished (%s; on_failure skip=%v after %d attempts)", short(req.MemberID), pc.Partition, pc.Offset, r, st, m.skip, m.attempts)
			}
		}
	}
}
