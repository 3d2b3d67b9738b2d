package processor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"pgregory.net/rapid"

	"github.com/veltrix/veltrix/pkg/kafka"
)

// TestModel is the model-based test of the engine. Each case starts a
// fresh kfake cluster and a member, then runs a random sequence of steps:
// produce records, script what the next handler calls on a partition do
// (succeed, fail the batch, fail some records, panic, run slow, outlive
// handler.timeout with or without honouring ctx, return a typed-nil
// *RecordErrors), let time pass, start or stop a second member, restart
// the first, make a member lose its partitions (a heartbeat answered with
// a fatal error) or turn it into a zombie (its heartbeats stop reaching the
// coordinator for longer than the session timeout), and commit by hand. After every step it checks the
// invariants the model (model_state_test.go) collects:
//
//   - commit-finished: no commit carries an offset beyond a record the
//     handler finished or the failure policy resolved;
//   - commit-owned: no member commits a partition it does not own (seen
//     from the JoinGroup, SyncGroup and LeaveGroup requests the cluster
//     receives);
//   - one-call-per-partition: a member never runs two calls at once on
//     one partition;
//   - order-of-first-deliveries: each partition's records are first handed
//     to a handler in offset order, with no gaps (and every batch is
//     non-empty, of one partition, in offset order: batch-shape, order);
//   - no-idle-pause: no partition stays paused while its queue is empty
//     and the buffer budget is free (the only check that reads internals,
//     through observeEngine);
//   - bounded-shutdown: Run returns within shutdown_timeout plus the drain
//     timeout plus a second of its context being cancelled, with nil;
//
// A case runs in one of the three orderings (processor.ordering, drawn):
// the above is partition ordering. In key ordering, with a drawn
// processor.concurrency and a small processor.max_in_flight (so that full
// offset windows pause fetching), one-call-per-partition becomes
//
//   - concurrency-bound: at most processor.concurrency calls of a member
//     at once on one partition;
//   - one-call-per-key: never two calls of a member at once holding the
//     same key of one partition;
//
// and order-of-first-deliveries holds per key: each key's records are
// first handed over in the key's offset order, with none of its offsets
// skipped (an eighth of the records have no key, and no order). In none
// ordering only concurrency-bound replaces it. commit-finished is then the
// window's promise: a commit never carries an offset above the lowest
// record not yet finished (returned, or given up on); commit-owned,
// no-idle-pause, bounded-shutdown and the final checks hold unchanged.
//
// and, when the case ends, after healing every fault:
//
//   - liveness: every produced record is committed within 20s;
//   - no-leaked-goroutines: once every Run returned and every handler
//     call returned, no goroutine running engine code is left.
//
// By default it runs a fixed seed (deterministic sequences; the timing is
// not) sized for CI; a failure prints the seed that replays its sequence:
//
//	go test ./pkg/processor -run TestModel -rapid.seed=N
//
// VELTRIX_SOAK=1 runs many more, longer cases from a random seed
// (scripts/soak.sh). VELTRIX_MODEL_EXCLUDE=typednil,stall,... leaves
// behaviours (ok, fail, partial, panic, slow, hang, block, typednil,
// longhang), steps (produce, script, wait, start-b, stop-b, restart-a,
// lose, stall, commit), a failure policy (halt, skip) or orderings
// (partition, key, none) out, to tell
// failures apart; sequences then differ from the same seed without it.
// VELTRIX_MODEL_IGNORE=one-call-per-partition,... logs the violations of
// the invariants it names without failing, to see what else breaks behind
// a known failure. VELTRIX_MODEL_EVENTS=N keeps N events before the first
// violation instead of 300; VELTRIX_MODEL_KGOLOG=1 adds franz-go's log.
func TestModel(t *testing.T) {
	soak := os.Getenv("VELTRIX_SOAK") != ""
	rapidDefaults(t, soak)
	steps, err := strconv.Atoi(flag.Lookup("rapid.steps").Value.String())
	if err != nil {
		t.Fatal(err)
	}
	exclude := map[string]bool{}
	for _, name := range strings.Split(os.Getenv("VELTRIX_MODEL_EXCLUDE"), ",") {
		exclude[strings.TrimSpace(name)] = true
	}
	var total modelStats
	start := time.Now()
	rapid.Check(t, func(rt *rapid.T) {
		total.add(runModelCase(t, rt, steps, exclude))
	})
	t.Logf("model: %d cases (%d in key ordering, %d in none), %d steps, %d handler calls (%d records, %d failing, %d timed out, %d panics, %d overlapping another on its partition), %d commits checked, %d joins, %d syncs, %d losses, %d stalls in %s",
		total.cases, total.keyCases, total.noneCases, total.steps, total.calls, total.records, total.failures, total.timeouts, total.panics, total.overlapped,
		total.commits, total.joins, total.syncs, total.losses, total.stalls, time.Since(start).Round(time.Millisecond))
}

// rapidDefaults sizes the run unless the command line or the environment
// says otherwise: CI gets a fixed seed and about 40 seconds; a soak gets a
// random seed and many more cases. Fail files are off: the seed replays.
// CI's 20 cases are about 8 in partition ordering, 8 in key and 4 in none.
func rapidDefaults(t *testing.T, soak bool) {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	def := func(name, val string) {
		env := "RAPID_" + strings.ToUpper(strings.TrimPrefix(name, "rapid."))
		if set[name] || os.Getenv(env) != "" {
			return
		}
		if err := flag.Set(name, val); err != nil {
			t.Fatal(err)
		}
	}
	if soak {
		def("rapid.checks", "200")
		def("rapid.steps", "400")
		def("rapid.seed", strconv.FormatUint(uint64(time.Now().UnixNano())%1e9+1, 10))
	} else {
		def("rapid.checks", "20")
		def("rapid.steps", "150")
		def("rapid.seed", "1021")
	}
	def("rapid.shrinktime", "20s")
	def("rapid.nofailfile", "true")
	// Printed at once, not logged: a crash (an engine goroutine panicking)
	// kills the binary before rapid prints anything, and go test shows a
	// passing package's output only with -v.
	seed := flag.Lookup("rapid.seed").Value.String()
	fmt.Fprintf(os.Stderr, "TestModel: base seed %s; replay with go test ./pkg/processor -run '^TestModel$' -rapid.seed=%s -rapid.checks=%s\n",
		seed, seed, flag.Lookup("rapid.checks").Value.String())
}

// Timing of every case: the shortest group timeouts veltrix's config
// accepts (session and rebalance timeouts 1s, heartbeats 100ms), except
// that the session timeout is 2s. kfake keeps the session timer of a member
// that is waiting in JoinGroup running; when a rebalance outlasts it (a
// zombie that does not rejoin), kfake removes the waiting member without
// ever answering its JoinGroup, and franz-go's Close then waits forever
// for that answer. A rebalance timeout well below the session timeout ends
// the rebalance first.
const (
	modelSession   = 2 * time.Second
	modelHeartbeat = 100 * time.Millisecond
	modelRebalance = time.Second
	// shutdownSlack is what Run may take beyond shutdown_timeout and the
	// drain timeout: a commit and a LeaveGroup on loopback.
	shutdownSlack = time.Second
	// pauseStreak is how long a partition may stay paused with an empty
	// queue and a free budget: a lane that drains resumes it at once, so
	// anything near this long is stuck, not slow.
	pauseStreak = time.Second
	longHang    = 2 * time.Second
	settleLimit = 20 * time.Second
)

const (
	modelTopic = "model-in"
	modelGroup = "model-g"
)

// modelCase is one running case.
type modelCase struct {
	t        *rapid.T
	outer    *testing.T
	m        *model
	c        *kfake.Cluster
	prod     *kgo.Client
	cfg      Config
	htimeout time.Duration
	parts    int
	exclude  map[string]bool

	a, b      *runner   // the current first and second member; b may be nil
	all       []*runner // every incarnation, for the final checks
	seq       int       // incarnations started
	stallEnd  time.Time // when the last zombie stall ends
	baseline  map[string]string
	valueSeed byte
}

func runModelCase(outer *testing.T, t *rapid.T, steps int, exclude map[string]bool) modelStats {
	parts := rapid.IntRange(1, 4).Draw(t, "partitions")
	cfg := drawConfig(t, exclude)
	// A quarter of the cases run without handler.timeout: then only a
	// revoke, a loss or the shutdown deadline stops a call that hangs.
	htimeout := time.Duration(rapid.SampledFrom([]int{0, 25, 40, 60, 80}).Draw(t, "handler_timeout_ms")) * time.Millisecond

	cs := &modelCase{
		t: t, outer: outer, cfg: cfg, htimeout: htimeout, parts: parts, exclude: exclude,
		baseline: engineGoroutines(),
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(parts), modelTopic),
		kfake.GroupMinSessionTimeout(modelSession))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	cs.c = c
	defer cs.cleanup()
	cs.m = newModel(modelTopic, parts, cfg.OnFailure == "skip", cfg.Retry.MaxAttempts)
	cs.m.ordering, cs.m.concurrency = cfg.Ordering, cfg.Concurrency
	cs.m.topicID = c.TopicInfo(modelTopic).TopicID
	cs.m.stats.cases = 1
	switch cfg.Ordering {
	case OrderKey:
		cs.m.stats.keyCases = 1
	case OrderNone:
		cs.m.stats.noneCases = 1
	}
	cs.observe()
	cs.m.event("config: partitions=%d ordering=%s concurrency=%d max_in_flight=%d commit=%s on_failure=%s balancer=%s attempts=%d handler.timeout=%s batch=%d/%dB/%s buffer=%d/%dB drain=%s shutdown=%s",
		parts, cfg.Ordering, cfg.Concurrency, cfg.MaxInFlight, cfg.Commit.Mode, cfg.OnFailure, cfg.Group.Balancer, cfg.Retry.MaxAttempts, htimeout,
		cfg.Batch.MaxRecords, cfg.Batch.MaxBytes, cfg.Batch.MaxWait, cfg.Buffer.MaxRecords, cfg.Buffer.MaxBytes,
		cfg.Rebalance.DrainTimeout, cfg.ShutdownTimeout)

	cs.prod, err = kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0))
	if err != nil {
		t.Fatalf("producer: %v", err)
	}

	cs.a = cs.start("A")
	select {
	case <-cs.a.p.Readied():
	case <-time.After(10 * time.Second): // the checks below report what is wrong
	}
	cs.check()

	actions := cs.actions()
	names := make([]string, 0, 64)
	for _, a := range actions {
		if exclude[a.name] {
			continue
		}
		for range a.weight {
			names = append(names, a.name)
		}
	}
	byName := map[string]func(){}
	for _, a := range actions {
		byName[a.name] = a.run
	}
	n := rapid.IntRange(steps/2, steps*3/2).Draw(t, "steps")
	for i := range n {
		name := rapid.SampledFrom(names).Draw(t, fmt.Sprintf("step %d", i))
		byName[name]()
		cs.m.mu.Lock()
		cs.m.stats.steps++
		cs.m.mu.Unlock()
		cs.check()
	}
	cs.settle()
	cs.check()
	cs.m.mu.Lock()
	defer cs.m.mu.Unlock()
	return cs.m.stats
}

func drawConfig(t *rapid.T, exclude map[string]bool) Config {
	var c Config
	c.Group = GroupConfig{
		ID: modelGroup, SessionTimeout: modelSession, RebalanceTimeout: modelRebalance, HeartbeatInterval: modelHeartbeat,
		Balancer: rapid.SampledFrom([]string{"cooperative-sticky", "cooperative-sticky", "cooperative-sticky", "sticky", "range", "roundrobin"}).Draw(t, "balancer"),
	}
	c.StartOffset = "earliest"
	c.Batch = BatchConfig{
		MaxRecords: rapid.IntRange(1, 20).Draw(t, "batch.max_records"),
		MaxBytes:   int64(rapid.IntRange(256, 8192).Draw(t, "batch.max_bytes")),
		MaxWait:    time.Duration(rapid.SampledFrom([]int{0, 0, 0, 2, 5}).Draw(t, "batch.max_wait_ms")) * time.Millisecond,
	}
	c.Commit = CommitConfig{
		Mode:     CommitMode(rapid.SampledFrom([]string{"batch", "interval", "manual"}).Draw(t, "commit.mode")),
		Interval: time.Duration(rapid.IntRange(10, 100).Draw(t, "commit.interval_ms")) * time.Millisecond,
	}
	c.Fetch = FetchConfig{
		MaxWait:           time.Duration(rapid.IntRange(10, 50).Draw(t, "fetch.max_wait_ms")) * time.Millisecond,
		MaxBytes:          int64(rapid.IntRange(1, 64).Draw(t, "fetch.max_kib")) << 10,
		MaxPartitionBytes: int64(rapid.IntRange(1, 16).Draw(t, "fetch.max_partition_kib")) << 10,
	}
	c.Buffer = BufferConfig{
		MaxRecords: rapid.IntRange(2, 40).Draw(t, "buffer.max_records"),
		MaxBytes:   int64(rapid.IntRange(1, 16).Draw(t, "buffer.max_kib")) << 10,
	}
	c.Retry = RetryConfig{
		MaxAttempts:    rapid.IntRange(1, 3).Draw(t, "retry.max_attempts"),
		InitialBackoff: time.Duration(rapid.IntRange(1, 5).Draw(t, "retry.initial_backoff_ms")) * time.Millisecond,
		MaxBackoff:     10 * time.Millisecond,
	}
	policies := []string{"halt", "skip"}
	if exclude["halt"] != exclude["skip"] {
		policies = slices.DeleteFunc(policies, func(p string) bool { return exclude[p] })
	}
	c.OnFailure = OnFailure(rapid.SampledFrom(policies).Draw(t, "on_failure"))
	c.Rebalance.DrainTimeout = time.Duration(rapid.IntRange(50, 300).Draw(t, "drain_timeout_ms")) * time.Millisecond
	c.ShutdownTimeout = time.Duration(rapid.IntRange(100, 400).Draw(t, "shutdown_timeout_ms")) * time.Millisecond
	orderings := []string{"partition", "partition", "key", "key", "none"}
	if kept := slices.DeleteFunc(slices.Clone(orderings), func(o string) bool { return exclude[o] }); len(kept) > 0 {
		orderings = kept
	}
	c.Ordering = Ordering(rapid.SampledFrom(orderings).Draw(t, "ordering"))
	if c.Ordering.concurrent() {
		// Windows small enough to fill (a record that hangs or fails holds
		// the window, and fetching pauses behind it), and a concurrency of
		// 1 now and then: one sub-lane behind a window.
		c.Concurrency = rapid.IntRange(1, 6).Draw(t, "concurrency")
		c.MaxInFlight = rapid.IntRange(1, 60).Draw(t, "max_in_flight")
	}
	return c
}

// observe installs the control functions through which the model sees the
// group's requests. They never answer: the cluster handles every request.
func (cs *modelCase) observe() {
	m := cs.m
	cs.c.ControlKey(kmsg.JoinGroup.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		m.onJoin(r.(*kmsg.JoinGroupRequest))
		return nil, nil, false
	})
	cs.c.ControlKey(kmsg.SyncGroup.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		m.onSync(r.(*kmsg.SyncGroupRequest))
		return nil, nil, false
	})
	cs.c.ControlKey(kmsg.LeaveGroup.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		m.onLeave(r.(*kmsg.LeaveGroupRequest))
		return nil, nil, false
	})
	cs.c.ControlKey(kmsg.OffsetCommit.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		m.onCommit(r.(*kmsg.OffsetCommitRequest))
		return nil, nil, false
	})
}

// check fails the case on the first broken invariant. The failure message
// names only the invariant, so that rapid recognises the same failure when
// it replays and shrinks the case; the details (the violation and the
// events before it) are logged: rapid shows the log of the minimised case,
// and the first failing case of the run is logged to the test itself.
func (cs *modelCase) check() {
	for _, r := range cs.all {
		select {
		case <-r.done:
			continue
		default:
		}
		if st := r.stoppedAt.Load(); st != 0 && time.Since(time.Unix(0, st)) > r.limit() && !r.hung {
			r.hung = true
			cs.m.violate("bounded-shutdown", "%s: Run has not returned %s after cancel (every goroutine's stack: %s); the group: %s; engine goroutines now:\n%s",
				r.name, r.limit().Round(time.Millisecond), dumpGoroutines(), cs.describeGroup(), stacks(leakedGoroutines(cs.baseline), 6))
		}
	}
	name, ok := cs.m.firstViolation()
	if !ok {
		return
	}
	report := cs.m.report()
	cs.t.Logf("%s", report)
	if firstReport.CompareAndSwap(false, true) {
		cs.outer.Logf("the first failing case, before rapid replays and shrinks it:\n%s", report)
	}
	cs.t.Fatalf("invariant %s broken (details logged above)", name)
}

// firstReport is set once the first failing case of the run was logged.
var firstReport atomic.Bool

type modelAction struct {
	name   string
	weight int
	run    func()
}

func (cs *modelCase) actions() []modelAction {
	t := cs.t
	part := func() int32 { return int32(rapid.IntRange(0, cs.parts-1).Draw(t, "partition")) }
	member := func() *runner {
		if cs.b != nil && rapid.Bool().Draw(t, "second member") {
			return cs.b
		}
		return cs.a
	}
	return []modelAction{
		{"produce", 7, func() {
			cs.produce(part(), rapid.IntRange(1, 30).Draw(t, "records"), rapid.IntRange(10, 200).Draw(t, "value bytes"))
		}},
		{"script", 5, func() { p := part(); cs.m.script(p, cs.drawScript(p)) }},
		{"wait", 6, func() { time.Sleep(time.Duration(rapid.IntRange(1, 40).Draw(t, "wait ms")) * time.Millisecond) }},
		{"start-b", 1, func() {
			if cs.b == nil {
				cs.b = cs.start("B")
			}
		}},
		{"stop-b", 1, func() {
			if cs.b != nil {
				cs.b.stop()
				cs.b = nil
			}
		}},
		{"restart-a", 1, func() {
			cs.a.stop()
			cs.a = cs.start("A")
		}},
		{"lose", 1, func() {
			cs.lose(member(), rapid.SampledFrom([]int16{kerr.IllegalGeneration.Code, kerr.UnknownMemberID.Code}).Draw(t, "error"))
		}},
		{"stall", 1, func() {
			if rapid.IntRange(0, 5).Draw(t, "stall dice") == 0 { // rarer than the others
				cs.stall(member())
			}
		}},
		{"commit", 1, func() { cs.commit(member()) }},
	}
}

var behWeights = []struct {
	kind   behKind
	weight int
}{
	{behOK, 22}, {behFail, 16}, {behPartial, 16}, {behPanic, 6}, {behSlow, 10},
	{behHang, 10}, {behBlock, 12}, {behTypedNil, 5}, {behLongHang, 1},
}

// unit is the time scale of slow handler calls: handler.timeout, or 40ms
// when there is none.
func (cs *modelCase) unit() time.Duration {
	if cs.htimeout > 0 {
		return cs.htimeout
	}
	return 40 * time.Millisecond
}

func (cs *modelCase) drawScript(part int32) []behaviour {
	var kinds []behKind
	for _, w := range behWeights {
		if cs.exclude[w.kind.String()] {
			continue
		}
		for range w.weight {
			kinds = append(kinds, w.kind)
		}
	}
	n := rapid.IntRange(1, 6).Draw(cs.t, "script length")
	out := make([]behaviour, 0, n)
	for range n {
		b := behaviour{kind: rapid.SampledFrom(kinds).Draw(cs.t, "behaviour")}
		switch b.kind {
		case behSlow:
			b.d = time.Duration(rapid.IntRange(1, 15).Draw(cs.t, "slow ms")) * time.Millisecond
		case behHang:
			b.d = cs.unit() * time.Duration(rapid.IntRange(3, 6).Draw(cs.t, "hang timeouts"))
		case behLongHang:
			b.d = longHang
		case behPartial:
			b.mask = rapid.Uint64().Draw(cs.t, "mask")
		}
		out = append(out, b)
	}
	cs.m.event("script p%d: %v", part, out)
	return out
}

func (cs *modelCase) produce(part int32, n, size int) {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := make([]byte, size)
		for j := range v {
			v[j] = 'a' + cs.valueSeed%26
		}
		cs.valueSeed++
		recs[i] = &kgo.Record{Topic: modelTopic, Partition: part, Key: []byte(fmt.Sprintf("k%d", i)), Value: v}
		if cs.cfg.Ordering.concurrent() {
			// Few keys, so that one batch holds a key several times and
			// its records wait for each other; and some without a key.
			recs[i].Key = []byte(fmt.Sprintf("k%d", i%5))
			if cs.valueSeed%8 == 0 {
				recs[i].Key = nil
			}
		}
	}
	keys := make([][]byte, n)
	for i, r := range recs {
		keys[i] = r.Key
	}
	base := cs.m.producing(part, keys)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := cs.prod.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		cs.t.Fatalf("producing: %v", err)
	}
	for i, pr := range res {
		if pr.Record.Offset != base+int64(i) {
			cs.t.Fatalf("model: p%d record %d got offset %d, the model expected %d", part, i, pr.Record.Offset, base+int64(i))
		}
	}
	last := res[len(res)-1].Record.Offset
	cs.m.produced(part, last+1)
	cs.m.event("produced p%d up to %d", part, last)
}

// memberID finds a member's id in the group by its client id.
func (cs *modelCase) memberID(r *runner) string {
	gi := cs.c.GroupInfo(modelGroup)
	if gi == nil {
		return ""
	}
	id := ""
	cs.m.mu.Lock()
	defer cs.m.mu.Unlock()
	for _, mem := range gi.Members {
		cs.m.names[mem.MemberID] = mem.ClientID
		if mem.ClientID == r.name {
			id = mem.MemberID
		}
	}
	return id
}

// lose answers the member's next heartbeat with a fatal error: franz-go
// calls the lost callback and rejoins, while the coordinator still counts
// it as the owner until then, so a commit it sends for a lost partition
// would land.
func (cs *modelCase) lose(r *runner, code int16) {
	id := cs.memberID(r)
	if id == "" {
		return
	}
	var once atomic.Bool
	m := cs.m
	cs.c.ControlKey(kmsg.Heartbeat.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		hb := req.(*kmsg.HeartbeatRequest)
		if hb.MemberID != id || m.isHealed() || !once.CompareAndSwap(false, true) {
			return nil, nil, false
		}
		resp := hb.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		m.mu.Lock()
		m.stats.losses++
		m.eventLocked("heartbeat of %s (%s) answered %s: it loses its partitions", short(id), r.name, kerr.ErrorForCode(code))
		m.mu.Unlock()
		return resp, nil, true
	})
	m.event("armed a loss for %s", r.name)
}

// stall turns the member into a zombie, as after SIGSTOP and SIGCONT: its
// heartbeats are answered "fine" without the coordinator seeing them, so
// the coordinator expires it and reassigns its partitions while it goes on
// processing and committing as their owner; then its heartbeats reach the
// coordinator again and it learns of the loss. (Sleeping its heartbeat
// with kfake's SleepControl instead left another member's JoinGroup
// unanswered forever in kfake, hanging that member's Close.)
func (cs *modelCase) stall(r *runner) {
	if time.Now().Before(cs.stallEnd) {
		return // one zombie at a time
	}
	id := cs.memberID(r)
	if id == "" {
		return
	}
	d := modelSession + 300*time.Millisecond
	cs.stallEnd = time.Now().Add(d)
	r.stallUntil.Store(cs.stallEnd.UnixNano())
	end := cs.stallEnd
	m := cs.m
	m.mu.Lock()
	m.stats.stalls++
	m.eventLocked("%s (%s) is a zombie for %s: its heartbeats do not reach the coordinator", short(id), r.name, d)
	m.mu.Unlock()
	cs.c.ControlKey(kmsg.Heartbeat.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		hb := req.(*kmsg.HeartbeatRequest)
		if time.Now().After(end) {
			cs.c.DropControl()
			return nil, nil, false
		}
		if hb.MemberID != id {
			return nil, nil, false
		}
		cs.c.KeepControl()
		return hb.ResponseKind(), nil, true
	})
}

func (m *model) isHealed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.healed
}

func (cs *modelCase) commit(r *runner) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := r.p.Commit(ctx)
	cs.m.event("%s Commit() = %v", r.name, err)
}

// runner is one Processor incarnation with its Run goroutine and its pause
// monitor.
type runner struct {
	name       string
	p          *Processor
	mm         *memberModel
	cancel     context.CancelFunc
	done       chan struct{} // closed when Run returned
	monDone    chan struct{} // closed when the pause monitor stopped
	stoppedAt  atomic.Int64  // unix nanos of cancel; 0 while running
	stallUntil atomic.Int64  // unix nanos when a zombie stall of it ends
	bound      time.Duration // shutdown bound without stalls
	hung       bool          // reported as hung; the test goroutine's only
}

func (cs *modelCase) start(role string) *runner {
	cs.seq++
	name := fmt.Sprintf("%s%d", role, cs.seq)
	mm := newMemberModel(name)
	h := &modelHandler{m: cs.m, mm: mm, unit: cs.unit()}
	log := slog.New(slog.NewTextHandler(eventWriter{cs.m, name}, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "group" || a.Key == "topic" {
				return slog.Attr{}
			}
			return a
		},
	}))
	opts := Options{Logger: log}
	if os.Getenv("VELTRIX_MODEL_KGOLOG") != "" {
		// A diagnosis aid: franz-go's own group log in the event log.
		opts.ClientOpts = []kgo.Opt{kgo.WithLogger(kgo.BasicLogger(eventWriter{cs.m, name + " kgo"}, kgo.LogLevelInfo, nil))}
	}
	cfg := cs.cfg
	cfg.HandlerTimeout = cs.htimeout
	// The drawn configurations go beyond what Validate allows (a batch
	// larger than the queue budget, to reach the oversized paths).
	p := newProcessor(kafka.Config{Brokers: cs.c.ListenAddrs(), ClientID: name, ConnectTimeout: 10 * time.Second},
		modelTopic, cfg, h, opts)
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{
		name: name, p: p, mm: mm, cancel: cancel, done: make(chan struct{}), monDone: make(chan struct{}),
		bound: cs.cfg.ShutdownTimeout + cs.cfg.Rebalance.DrainTimeout + shutdownSlack,
	}
	m := cs.m
	go func() {
		defer close(r.done)
		err := p.Run(ctx)
		now := time.Now()
		stopped := r.stoppedAt.Load()
		switch {
		case stopped == 0:
			m.violate("bounded-shutdown", "%s: Run returned %v before its context was cancelled", name, err)
		case err != nil && !errors.Is(err, context.Canceled): // cancelled while connecting
			m.violate("bounded-shutdown", "%s: Run returned %v after a clean cancel", name, err)
		default:
			took := now.Sub(time.Unix(0, stopped))
			bound := r.bound
			if st := r.stallUntil.Load(); st > stopped {
				bound += time.Duration(st - stopped) // its commits waited behind the stalled heartbeat
			}
			if took > bound {
				m.violate("bounded-shutdown", "%s: Run took %s to return after cancel; the bound is %s (shutdown_timeout %s + drain_timeout %s + %s)",
					name, took.Round(time.Millisecond), bound, cs.cfg.ShutdownTimeout, cs.cfg.Rebalance.DrainTimeout, shutdownSlack)
			} else {
				m.event("%s: Run returned after %s", name, took.Round(time.Millisecond))
			}
		}
	}()
	go r.monitor(m, cs.cfg.Buffer.MaxBytes)
	cs.all = append(cs.all, r)
	m.event("started %s", name)
	return r
}

// limit is how long after its cancel a Run that has not returned is
// reported as hung: well past the bound Run is held to when it returns.
func (r *runner) limit() time.Duration {
	l := r.bound + 5*time.Second
	if st, stopped := r.stallUntil.Load(), r.stoppedAt.Load(); st > stopped {
		l += time.Duration(st - stopped)
	}
	return l
}

func (r *runner) stop() {
	if r.stoppedAt.CompareAndSwap(0, time.Now().UnixNano()) {
		r.cancel()
	}
}

func (r *runner) running() bool { return r.stoppedAt.Load() == 0 }

// monitor checks no-idle-pause every few milliseconds until Run returns.
func (r *runner) monitor(m *model, budget int64) {
	defer close(r.monDone)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	since := map[int32]time.Time{}
	reported := map[int32]bool{}
	sawPaused := false
	for {
		select {
		case <-r.done:
			return
		case <-tick.C:
		}
		lanes, clientPaused, counted := observeEngine(r.p, sawPaused)
		var live, idle int64
		for _, l := range lanes {
			sawPaused = sawPaused || l.paused
			if !l.halted && !l.stopping {
				live += l.bytes
			} else {
				idle += l.bytes
			}
		}
		now := time.Now()
		stuck := map[int32]bool{}
		for _, l := range lanes {
			if l.halted || l.stopping || l.queued > 0 || live > budget/2 || (!l.paused && !clientPaused[l.part]) {
				continue
			}
			stuck[l.part] = true
			if since[l.part].IsZero() {
				since[l.part] = now
			}
			if now.Sub(since[l.part]) >= pauseStreak && !reported[l.part] {
				reported[l.part] = true
				m.violate("no-idle-pause", "%s: partition %d has been paused (engine flag %v, client %v) for %s with an empty queue while the live lanes buffer %d bytes of a %d-byte budget (halted or released lanes hold %d bytes; the engine counts %d bytes buffered)",
					r.name, l.part, l.paused, clientPaused[l.part], pauseStreak, live, budget, idle, counted)
			}
		}
		for part := range since {
			if !stuck[part] {
				delete(since, part)
			}
		}
	}
}

// settle heals every fault, waits for every produced record to be
// committed (liveness), then stops every member and checks that the
// engine left no goroutine behind.
func (cs *modelCase) settle() {
	m := cs.m
	m.heal()
	time.Sleep(time.Until(cs.stallEnd))
	if cs.a == nil || !cs.a.running() {
		cs.a = cs.start("A")
	}
	deadline := time.Now().Add(settleLimit)
	for {
		// A partition halted by the policy stays halted until a restart.
		for _, r := range []*runner{cs.a, cs.b} {
			if r == nil || !r.running() {
				continue
			}
			lanes, _, _ := observeEngine(r.p, false)
			if slices.ContainsFunc(lanes, func(l engineLane) bool { return l.halted }) {
				m.event("restarting %s: it has a halted partition", r.name)
				r.stop()
				nr := cs.start(r.name[:1])
				if r == cs.a {
					cs.a = nr
				} else {
					cs.b = nr
				}
			}
		}
		if cs.cfg.Commit.Mode == "manual" {
			for _, r := range []*runner{cs.a, cs.b} {
				if r != nil {
					cs.commit(r)
				}
			}
		}
		pending := cs.uncommitted()
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) || m.failed() {
			if !m.failed() {
				m.violate("liveness", "%s after healing every fault, not everything is committed: %s", settleLimit, strings.Join(pending, "; "))
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cs.check()
	cs.stopAll()
	cs.check()

	// Every handler call returns (the longest sleeps longHang); then no
	// goroutine may be left running engine code.
	waitFor(2*longHang, func() bool { return m.inflightCalls() == 0 })
	var leaked map[string]string
	waitFor(500*time.Millisecond, func() bool {
		leaked = leakedGoroutines(cs.baseline)
		return len(leaked) == 0
	})
	if n := m.inflightCalls(); n > 0 {
		m.violate("no-leaked-goroutines", "%d handler calls still running %s after every Run returned", n, 2*longHang)
	}
	if len(leaked) > 0 {
		var left []string
		for _, r := range cs.all {
			if lanes, _, _ := observeEngine(r.p, false); len(lanes) > 0 {
				left = append(left, fmt.Sprintf("%s still has lanes %+v", r.name, lanes))
			}
		}
		m.violate("no-leaked-goroutines", "%d goroutines running engine code after every Run and every handler call returned (%s):\n%s",
			len(leaked), strings.Join(left, "; "), stacks(leaked, 4))
	}
}

// uncommitted describes the partitions whose committed offset is not yet
// their end, with what the model and the engines know of them.
func (cs *modelCase) uncommitted() []string {
	gi := cs.c.GroupInfo(modelGroup)
	var commits map[int32]kfake.GroupCommit
	if gi != nil {
		commits = gi.Commits[modelTopic]
	}
	var out []string
	cs.m.mu.Lock()
	defer cs.m.mu.Unlock()
	for i, pm := range cs.m.parts {
		c, ok := commits[int32(i)]
		if pm.produced == 0 || ok && c.Offset == pm.produced {
			continue
		}
		out = append(out, fmt.Sprintf("p%d produced %d committed %d (ok=%v) resolved %d delivered %d",
			i, pm.produced, c.Offset, ok, pm.resolvedUpTo(cs.m.skip, cs.m.attempts), pm.nextFirst))
	}
	if len(out) > 0 {
		for _, r := range []*runner{cs.a, cs.b} {
			if r != nil && r.running() {
				lanes, _, _ := observeEngine(r.p, false)
				out = append(out, fmt.Sprintf("%s lanes %+v", r.name, lanes))
			}
		}
	}
	return out
}

// stopAll cancels every member and waits for each Run to return (bounded,
// so a hung shutdown fails the case instead of the whole test run).
func (cs *modelCase) stopAll() {
	for _, r := range cs.all {
		r.stop()
	}
	for _, r := range cs.all {
		select {
		case <-r.done:
			<-r.monDone
		case <-time.After(time.Until(time.Unix(0, r.stoppedAt.Load()).Add(r.limit()))):
			cs.check() // reports it
		}
	}
}

// cleanup runs however the case ends.
func (cs *modelCase) cleanup() {
	for _, r := range cs.all {
		r.stop()
	}
	for _, r := range cs.all {
		if !r.hung {
			select {
			case <-r.done:
			case <-time.After(time.Until(time.Unix(0, r.stoppedAt.Load()).Add(r.limit()))):
			}
		}
	}
	if cs.prod != nil {
		cs.prod.Close()
	}
	cs.c.Close()
}

func waitFor(limit time.Duration, cond func() bool) {
	deadline := time.Now().Add(limit)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// engineGoroutines returns the stacks, by goroutine id, of the goroutines
// with a frame in the engine's code (pkg/processor, not its tests).
func engineGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, frames, _ := strings.Cut(g, "\n")
		id := strings.Fields(header)
		if len(id) < 2 {
			continue
		}
		for _, line := range strings.Split(frames, "\n") {
			file, _, _ := strings.Cut(strings.TrimSpace(line), ":")
			if strings.HasPrefix(line, "\t") && strings.Contains(file, "/pkg/processor/") && !strings.HasSuffix(file, "_test.go") {
				out[id[1]] = g
				break
			}
		}
	}
	return out
}

// describeGroup is the coordinator's view of the group, for reports.
func (cs *modelCase) describeGroup() string {
	gi := cs.c.GroupInfo(modelGroup)
	if gi == nil {
		return "no group"
	}
	out := fmt.Sprintf("state %s epoch %d", gi.State, gi.Epoch)
	for _, mem := range gi.Members {
		out += fmt.Sprintf("; %s (%s) owns %v", short(mem.MemberID), mem.ClientID, mem.Assignment[modelTopic])
	}
	return out
}

// dumpGoroutines writes every goroutine's stack to a file and returns its
// name, for a hang whose cause lies outside the engine's own frames.
func dumpGoroutines() string {
	f, err := os.CreateTemp("", "veltrix-model-stacks-*.txt")
	if err != nil {
		return err.Error()
	}
	buf := make([]byte, 8<<20)
	_, err = f.Write(buf[:runtime.Stack(buf, true)])
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err.Error()
	}
	return f.Name()
}

// stacks renders at most n of the goroutine stacks, in a stable order.
func stacks(gs map[string]string, n int) string {
	var out []string
	for _, s := range gs {
		out = append(out, s)
	}
	slices.Sort(out)
	if len(out) > n {
		out = append(out[:n], fmt.Sprintf("(and %d more)", len(out)-n))
	}
	return strings.Join(out, "\n\n")
}

func leakedGoroutines(baseline map[string]string) map[string]string {
	out := engineGoroutines()
	for id := range baseline {
		delete(out, id)
	}
	return out
}

// eventWriter puts a member's log lines into the model's event log.
type eventWriter struct {
	m    *model
	name string
}

func (w eventWriter) Write(b []byte) (int, error) {
	w.m.event("%s log: %s", w.name, strings.TrimSpace(string(b)))
	return len(b), nil
}

var _ io.Writer = eventWriter{}
