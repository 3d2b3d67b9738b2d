package processor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// The engine's failure contract (handler.go, docs/delivery.md "Failures",
// docs/architecture.md step 5), checked at package level: what the handler
// sees (whole-batch retries with backoff, partial retries, isolation), what
// on_failure does with what still fails, and what is committed. Until these
// tests, retries, isolation, skip and dead-letter headers were checked only
// through whole processes (internal/faults, internal/e2e).

// newContractProcessor builds every processor of the contract tests: the
// one place to change when processor.New's signature does.
func newContractProcessor(t *testing.T, brokers []string, topic string, cfg processor.Config, h processor.Handler, opts processor.Options) *processor.Processor {
	t.Helper()
	return mustNew(t, kcfg(brokers, "contract"), topic, cfg, h, opts)
}

const (
	contractAttempts = 3
	contractBackoff  = 20 * time.Millisecond // initial; doubled to at most 2×
	// contractFlakyFails is how many calls a "flaky" record fails before it
	// succeeds: one fewer than the attempts, so it succeeds on the last.
	contractFlakyFails = contractAttempts - 1
)

// The errors the contract handler fails with; a dead letter's error header
// carries them.
var (
	errContractRecord = errors.New("contract: record failed")
	errContractBatch  = errors.New("contract: the batch holds a failing record")
)

// contractConfig is a processor configuration for the contract tests:
// batch commits (each commit follows its batch synchronously), batches that
// hold a whole produced run, and retries fast enough to test but long
// enough to measure.
func contractConfig(t *testing.T, onFailure processor.OnFailure) processor.Config {
	cfg := testConfig(kafkatest.Name(t, "g"))
	cfg.Commit.Mode = "batch"
	cfg.Batch.MaxRecords = 100
	cfg.Batch.MaxWait = 0
	cfg.Retry.MaxAttempts = contractAttempts
	cfg.Retry.InitialBackoff = contractBackoff
	cfg.Retry.MaxBackoff = 2 * contractBackoff
	cfg.OnFailure = onFailure
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// recKey names a record of the input topic.
type recKey struct {
	part int32
	off  int64
}

// contractCall is one handler call as the handler saw it.
type contractCall struct {
	part    int32
	offsets []int64
	failed  map[int64]bool // offsets the call reported failed (all of them for a whole-batch error)
	whole   bool           // failed with a plain error, not a *RecordErrors
	at      time.Time
}

// contractHandler fails records by their value, as a real bad record fails
// wherever it is: "poison" always, "flaky" on the first contractFlakyFails
// calls that include it. With partial it names the failing records in a
// *RecordErrors; otherwise a batch holding one fails as a whole. It logs
// every call.
type contractHandler struct {
	partial bool

	mu    sync.Mutex
	calls []contractCall
	seen  map[recKey]int // calls that included each record
}

func newContractHandler(partial bool) *contractHandler {
	return &contractHandler{partial: partial, seen: map[recKey]int{}}
}

func (h *contractHandler) Handle(_ context.Context, b *processor.Batch) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := contractCall{part: b.Partition, failed: map[int64]bool{}, at: time.Now()}
	var errs processor.RecordErrors
	for i, r := range b.Records {
		k := recKey{r.Partition, r.Offset}
		h.seen[k]++
		c.offsets = append(c.offsets, r.Offset)
		v := string(r.Value)
		if v == "poison" || v == "flaky" && h.seen[k] <= contractFlakyFails {
			c.failed[r.Offset] = true
			errs.Add(i, errContractRecord)
		}
	}
	if len(c.failed) > 0 && !h.partial {
		c.whole = true
		for _, off := range c.offsets {
			c.failed[off] = true
		}
	}
	h.calls = append(h.calls, c)
	switch {
	case len(c.failed) == 0:
		return nil
	case h.partial:
		return errs.Err()
	}
	return errContractBatch
}

// log returns a copy of the calls so far on part, in order (calls on one
// partition never overlap, so their start order is their order).
func (h *contractHandler) log(part int32) []contractCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []contractCall
	for _, c := range h.calls {
		if c.part == part {
			out = append(out, c)
		}
	}
	return out
}

// done counts the calls that finished each record of part (returned
// success for it).
func (h *contractHandler) done(part int32) map[int64]int {
	out := map[int64]int{}
	for _, c := range h.log(part) {
		for _, off := range c.offsets {
			if !c.failed[off] {
				out[off]++
			}
		}
	}
	return out
}

// produceValues writes one record per value to part, in one produce call
// (so they are fetched, and batched, together). Each record has the key
// k<i> and a header the dead letter must keep.
func produceValues(t *testing.T, brokers []string, topic string, part int32, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Topic: topic, Partition: part, Key: fmt.Appendf(nil, "k%d", i), Value: []byte(v),
			Headers: []kgo.RecordHeader{{Key: "trace", Value: fmt.Appendf(nil, "t-%d-%s", part, v)}}}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing to %s/%d: %v", topic, part, err)
	}
}

// committedAt returns the group's committed offset of topic/part, -1 for
// none.
func committedAt(ctx context.Context, adm *kadm.Client, group, topic string, part int32) (int64, error) {
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, fmt.Errorf("fetching offsets of %s: %w", group, err)
	}
	o, ok := offs.Lookup(topic, part)
	if !ok {
		return -1, nil
	}
	return o.At, o.Err
}

// waitCommitted waits until the group's committed offsets of topic are
// want, by partition, and cond (when not nil) holds; on a timeout it fails
// with what it saw last, and at once when an offset passes its want.
func waitCommitted(t *testing.T, adm *kadm.Client, group, topic string, want map[int32]int64, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[int32]int64{}
		ok := cond == nil || cond()
		for part, w := range want {
			off, err := committedAt(context.Background(), adm, group, topic, part)
			if err != nil {
				off = -2
			}
			got[part] = off
			ok = ok && off == w
			if off > w {
				t.Fatalf("waiting for %s: partition %d committed %d, past %d", what, part, off, w)
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: committed %v, want %v (-1: none, -2: unreadable)", what, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestContractFailurePolicy is the table of the failure contract: each
// on_failure policy with a handler that fails whole batches and one that
// names failed records, on two partitions: p0 holds a record that fails
// transiently and records that always fail, p1 only a transient failure.
func TestContractFailurePolicy(t *testing.T) {
	p0 := []string{"ok", "ok", "flaky", "ok", "ok", "ok", "poison", "ok", "poison", "ok"}
	p0halt := []string{"ok", "ok", "flaky", "ok", "ok", "ok", "poison", "ok", "ok", "ok"}
	p1 := []string{"ok", "flaky", "ok", "ok", "ok"}
	cases := []struct {
		name      string
		onFailure string
		partial   bool // the handler names failed records with *RecordErrors
		p0        []string
	}{
		{"skip/whole-batch-errors", "skip", false, p0},
		{"skip/record-errors", "skip", true, p0},
		{"dlq/whole-batch-errors", "dlq", false, p0},
		{"dlq/record-errors", "dlq", true, p0},
		{"halt/whole-batch-errors", "halt", false, p0halt},
		{"halt/record-errors", "halt", true, p0halt},
	}
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				runContractCase(t, c, tc.onFailure, tc.partial, [][]string{tc.p0, p1})
			})
		}
	})
}

// runContractCase produces values (by partition), runs a processor with
// the contract handler until the policy has dealt with every bad record,
// and checks the contract.
func runContractCase(t *testing.T, c kafkatest.Cluster, onFailure string, partial bool, values [][]string) {
	began := time.Now()
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, c.Brokers, topic, len(values))
	cfg := contractConfig(t, processor.OnFailure(onFailure))
	dlq := processor.DLQTopic(cfg, topic)
	if onFailure == "dlq" {
		kafkatest.CreateTopic(t, c.Brokers, dlq, 1)
	}
	for part, vs := range values {
		produceValues(t, c.Brokers, topic, int32(part), vs...)
	}
	adm := kafkatest.Admin(t, c.Brokers)
	ctx := context.Background()

	// What the policy must end with: a record that always fails is dealt
	// with; under halt the first one stops its partition there.
	poison := map[recKey]bool{}
	haltAt := map[int32]int64{}
	for part, vs := range values {
		for off, v := range vs {
			k := recKey{int32(part), int64(off)}
			if v != "poison" {
				continue
			}
			if onFailure == "halt" {
				if _, ok := haltAt[k.part]; !ok {
					haltAt[k.part] = k.off
					poison[k] = true
				}
				continue
			}
			poison[k] = true
		}
	}
	wantCommitted := func(part int32) int64 {
		if off, ok := haltAt[part]; ok {
			return off
		}
		return int64(len(values[part]))
	}

	// Each dead letter's acknowledgement is observed before the engine
	// hears of it (franz-go runs this hook before the produce promise): the
	// committed offset then must not yet have passed the record.
	acks := &dlqAcks{adm: adm, group: cfg.Group.ID, topic: topic, dlq: dlq}
	h := newContractHandler(partial)
	reg := prometheus.NewRegistry()
	p := newContractProcessor(t, c.Brokers, topic, cfg, h, processor.Options{Metrics: metrics.New(reg),
		ClientOpts: []kgo.Opt{kgo.WithHooks(acks)}})
	stop := start(t, p, 15*time.Second)

	want := map[int32]int64{}
	for part := range values {
		want[int32(part)] = wantCommitted(int32(part))
	}
	waitCommitted(t, adm, cfg.Group.ID, topic, want, "every partition committed where the policy leaves it", func() bool {
		return gauge(t, reg, "veltrix_halted_partitions") == float64(len(haltAt))
	})

	// A bad record holds up nothing but itself under skip and dlq, and
	// only its own partition, stopped at it, under halt: records produced
	// now are handled and committed on every partition but a halted one,
	// which gets no call at all.
	before := map[int32]int{}
	for part := range haltAt {
		before[part] = len(h.log(part))
	}
	for part := range values {
		later := []string{"ok", "ok", "ok"}
		produceValues(t, c.Brokers, topic, int32(part), later...)
		values[part] = append(values[part], later...)
		if _, halted := haltAt[int32(part)]; !halted {
			want[int32(part)] += int64(len(later))
		}
	}
	waitCommitted(t, adm, cfg.Group.ID, topic, want, "the records produced after the bad ones committed", nil)
	for part, n := range before {
		if got := len(h.log(part)); got != n {
			t.Errorf("partition %d: %d handler calls after it halted", part, got-n)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for part, w := range want {
		got, err := committedAt(ctx, adm, cfg.Group.ID, topic, part)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("partition %d: committed %d after shutdown, want %d", part, got, w)
		}
	}
	for part, vs := range values {
		checkContractCalls(t, h, int32(part), vs, haltAt)
	}

	outcomes := map[string]float64{"skip": 0, "dlq": 0, "halt": 0}
	outcomes[onFailure] = float64(len(poison))
	for outcome, want := range outcomes {
		if got := counterWith(t, reg, "veltrix_failed_records_total", "outcome", outcome); got != want {
			t.Errorf("veltrix_failed_records_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	if onFailure == "dlq" {
		checkDeadLetters(t, c.Brokers, topic, dlq, values, poison, partial, began)
		acks.check(t, len(poison))
	}
}

// checkContractCalls checks what the handler saw on part against the
// retry contract, call by call, and that every record was finished exactly
// once.
func checkContractCalls(t *testing.T, h *contractHandler, part int32, values []string, haltAt map[int32]int64) {
	t.Helper()
	calls := h.log(part)
	done := h.done(part)
	halt, halted := haltAt[part]

	// Every record is finished exactly once, except those that always fail
	// (never) and, under halt, those past the bad record (at most once:
	// the bad record's batch may have finished them before the partition
	// stopped, and nothing past it was committed, so they come again after
	// a restart).
	for off, v := range values {
		o := int64(off)
		switch {
		case v == "poison":
			if done[o] != 0 {
				t.Errorf("p%d@%d: a record that always fails was finished", part, o)
			}
		case halted && o > halt:
			if done[o] > 1 {
				t.Errorf("p%d@%d: finished %d times", part, o, done[o])
			}
		case done[o] != 1:
			t.Errorf("p%d@%d (%s): finished %d times, want exactly once", part, o, v, done[o])
		}
	}

	// Each batch is first handed over after every earlier one, and its
	// calls follow the contract (checkTry).
	next := int64(0)
	for i := 0; i < len(calls); {
		c := calls[i]
		if c.offsets[0] < next {
			t.Errorf("p%d call %d %v: hands over records again that an earlier try dealt with", part, i, c.offsets)
			return
		}
		next = c.offsets[len(c.offsets)-1] + 1
		if i = checkTry(t, calls, i); i < 0 {
			return
		}
	}
}

// checkTry checks the calls of one try, starting at calls[i], and returns
// the index of the call after them (-1 after a violation). A failed call is
// retried after the backoff (initial × 2^(attempt-1), capped, less 20%
// jitter), up to processor.retry.max_attempts calls in all: with the same
// records after a whole-batch error, with exactly the named records after
// a *RecordErrors (the others are done and never handed over again). A
// batch of several records whose whole-batch error outlasts the attempts
// is isolated: each record is then tried alone, in order.
func checkTry(t *testing.T, calls []contractCall, i int) int {
	t.Helper()
	for attempt := 1; ; attempt++ {
		cur := calls[i]
		if len(cur.failed) == 0 {
			return i + 1
		}
		if attempt == contractAttempts {
			if !cur.whole || len(cur.offsets) == 1 {
				return i + 1
			}
			j := i + 1
			for _, off := range cur.offsets {
				if j >= len(calls) || !slices.Equal(calls[j].offsets, []int64{off}) {
					t.Errorf("p%d call %d: after %d whole-batch failures of %v, want record %d tried alone; calls %s",
						cur.part, j, attempt, cur.offsets, off, describeCalls(calls, i))
					return -1
				}
				if j = checkTry(t, calls, j); j < 0 {
					return -1
				}
			}
			return j
		}
		want := cur.offsets
		if !cur.whole {
			want = failedOffsets(cur)
		}
		if i+1 >= len(calls) || !slices.Equal(calls[i+1].offsets, want) {
			t.Errorf("p%d call %d: attempt %d of %v failed, want %v retried; calls %s", cur.part, i+1, attempt, cur.offsets, want, describeCalls(calls, i))
			return -1
		}
		backoff := min(contractBackoff<<(attempt-1), 2*contractBackoff) * 8 / 10
		if gap := calls[i+1].at.Sub(cur.at); gap < backoff {
			t.Errorf("p%d call %d: retry %d came %s after the attempt, want ≥ %s (the backoff)", cur.part, i+1, attempt, gap, backoff)
		}
		i++
	}
}

// describeCalls renders calls[i:] (at most 10) for a failure message.
func describeCalls(calls []contractCall, i int) string {
	var s string
	for _, c := range calls[i:min(len(calls), i+10)] {
		s += fmt.Sprintf(" %v(failed %v)", c.offsets, failedOffsets(c))
	}
	return s
}

func failedOffsets(c contractCall) []int64 {
	var out []int64
	for _, off := range c.offsets {
		if c.failed[off] {
			out = append(out, off)
		}
	}
	return out
}

// checkDeadLetters reads the dead-letter topic back: one dead letter per
// bad record, with its key, value and headers, then every header the
// engine documents, with its exact value.
func checkDeadLetters(t *testing.T, brokers []string, topic, dlq string, values [][]string, poison map[recKey]bool, partial bool, began time.Time) {
	t.Helper()
	var got []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := verify.ReadTopic(ctx, dlq, func(r *kgo.Record) { got = append(got, r) }, kgo.SeedBrokers(brokers...)); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(poison) {
		t.Fatalf("%d dead letters, want %d (one per bad record)", len(got), len(poison))
	}
	wantErr := errContractBatch.Error() // the isolated record failed its call as a whole
	if partial {
		wantErr = errContractRecord.Error()
	}
	seen := map[recKey]bool{}
	for _, r := range got {
		h := map[string]string{}
		for _, hd := range r.Headers {
			if _, dup := h[hd.Key]; dup {
				t.Errorf("dead letter %s: header %s twice", r.Key, hd.Key)
			}
			h[hd.Key] = string(hd.Value)
		}
		part, err1 := strconv.ParseInt(h[processor.HeaderDLQPartition], 10, 32)
		off, err2 := strconv.ParseInt(h[processor.HeaderDLQOffset], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("dead letter %s: partition %q, offset %q", r.Key, h[processor.HeaderDLQPartition], h[processor.HeaderDLQOffset])
		}
		k := recKey{int32(part), off}
		if !poison[k] || seen[k] {
			t.Fatalf("dead letter for p%d@%d: not a bad record, or a second one", part, off)
		}
		seen[k] = true
		v := values[part][off]
		if string(r.Key) != fmt.Sprintf("k%d", off) || string(r.Value) != v {
			t.Errorf("dead letter for p%d@%d: key %q value %q, want the source's k%d %q", part, off, r.Key, r.Value, off, v)
		}
		if len(r.Headers) != 7 || r.Headers[0].Key != "trace" || string(r.Headers[0].Value) != fmt.Sprintf("t-%d-%s", part, v) {
			t.Errorf("dead letter for p%d@%d: headers %v, want the source's trace header first, then the engine's six", part, off, r.Headers)
		}
		for key, want := range map[string]string{
			processor.HeaderDLQTopic:    topic,
			processor.HeaderDLQError:    wantErr,
			processor.HeaderDLQAttempts: strconv.Itoa(contractAttempts),
		} {
			if h[key] != want {
				t.Errorf("dead letter for p%d@%d: %s = %q, want %q", part, off, key, h[key], want)
			}
		}
		at, err := time.Parse(time.RFC3339Nano, h[processor.HeaderDLQTime])
		if err != nil || at.Before(began.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) || at.Location() != time.UTC {
			t.Errorf("dead letter for p%d@%d: %s = %q, want an RFC 3339 UTC time of this run (%v)", part, off, processor.HeaderDLQTime, h[processor.HeaderDLQTime], err)
		}
	}
}

// dlqAcks is a client hook on the processor's client: for each dead letter
// the brokers acknowledged, it reads the group's committed offset of the
// source partition at that moment, before the engine learns of the ack.
type dlqAcks struct {
	adm                *kadm.Client
	group, topic, dlq  string
	mu                 sync.Mutex
	n                  int
	violations, errors []string
}

var _ kgo.HookProduceRecordUnbuffered = (*dlqAcks)(nil)

// OnProduceRecordUnbuffered implements kgo.HookProduceRecordUnbuffered.
func (a *dlqAcks) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	if r.Topic != a.dlq || err != nil {
		return
	}
	var part, off int64
	for _, h := range r.Headers {
		switch h.Key {
		case processor.HeaderDLQPartition:
			part, _ = strconv.ParseInt(string(h.Value), 10, 32)
		case processor.HeaderDLQOffset:
			off, _ = strconv.ParseInt(string(h.Value), 10, 64)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, cerr := committedAt(ctx, a.adm, a.group, a.topic, int32(part))
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	switch {
	case cerr != nil:
		a.errors = append(a.errors, cerr.Error())
	case got > off:
		a.violations = append(a.violations, fmt.Sprintf("p%d@%d: committed %d when its dead letter was acknowledged", part, off, got))
	}
}

func (a *dlqAcks) check(t *testing.T, want int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n != want || len(a.errors) > 0 {
		t.Errorf("saw %d dead-letter acknowledgements, want %d (errors reading offsets: %v)", a.n, want, a.errors)
	}
	for _, v := range a.violations {
		t.Errorf("the source offset was committed before the dead letter was acknowledged: %s", v)
	}
}

// dlqPending is a client hook that reports when a dead letter is handed to
// the client for writing.
type dlqPending struct {
	dlq  string
	once sync.Once
	ch   chan struct{}
}

var _ kgo.HookProduceRecordBuffered = (*dlqPending)(nil)

// OnProduceRecordBuffered implements kgo.HookProduceRecordBuffered.
func (d *dlqPending) OnProduceRecordBuffered(r *kgo.Record) {
	if r.Topic == d.dlq {
		d.once.Do(func() { close(d.ch) })
	}
}

// TestContractDeadLetterCommitWaitsForTheAck holds a dead letter unwritten
// (its topic does not exist yet, and the client waits for it) while commits
// go on for the other partition, including commits carrying every owned
// lane's offsets: none may pass the bad record. Once the topic exists the
// write is acknowledged and the offset moves past the record.
func TestContractDeadLetterCommitWaitsForTheAck(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		for _, mode := range []string{"batch", "interval"} {
			t.Run(mode, func(t *testing.T) {
				topic := kafkatest.Name(t, "in")
				kafkatest.CreateTopic(t, c.Brokers, topic, 2)
				cfg := contractConfig(t, "dlq")
				cfg.Commit.Mode = processor.CommitMode(mode)
				cfg.DLQTopic = kafkatest.Name(t, "dlq") // created below, once the write is pending
				produceValues(t, c.Brokers, topic, 0, "ok", "ok", "poison", "ok")
				pending := &dlqPending{dlq: cfg.DLQTopic, ch: make(chan struct{})}
				h := newContractHandler(true)
				reg := prometheus.NewRegistry()
				p := newContractProcessor(t, c.Brokers, topic, cfg, h, processor.Options{Metrics: metrics.New(reg),
					ClientOpts: []kgo.Opt{kgo.WithHooks(pending), kgo.UnknownTopicRetries(-1), kgo.MetadataMinAge(100 * time.Millisecond)}})
				stop := start(t, p, 15*time.Second)
				select {
				case <-pending.ch:
				case <-time.After(60 * time.Second):
					t.Fatal("no dead letter was written")
				}

				// Commits go on meanwhile: p1's records are committed.
				adm := kafkatest.Admin(t, c.Brokers)
				ctx := context.Background()
				produceValues(t, c.Brokers, topic, 1, "ok", "ok", "ok")
				waitCommitted(t, adm, cfg.Group.ID, topic, map[int32]int64{1: 3}, "the other partition committed", nil)
				got, err := committedAt(ctx, adm, cfg.Group.ID, topic, 0)
				if err != nil {
					t.Fatal(err)
				}
				if got > 2 {
					t.Fatalf("committed %d on p0 while the dead letter of p0@2 was unacknowledged", got)
				}
				if n := counterWith(t, reg, "veltrix_failed_records_total", "outcome", "dlq"); n != 0 {
					t.Fatalf("%v records counted dead-lettered before the write was acknowledged", n)
				}

				kafkatest.CreateTopic(t, c.Brokers, cfg.DLQTopic, 1)
				waitCommitted(t, adm, cfg.Group.ID, topic, map[int32]int64{0: 4}, "p0 committed past the dead letter", nil)
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				if n := counterWith(t, reg, "veltrix_failed_records_total", "outcome", "dlq"); n != 1 {
					t.Fatalf("%v records dead-lettered, want 1", n)
				}
			})
		}
	})
}

// TestContractDeadLetterNeverWrittenHaltsAtTheRecord: a dead letter that
// cannot be written (its topic does not exist and the client gives up at
// once) halts the partition exactly at the record — the good records
// before it committed, nothing from it on — while the other partition goes
// on. (TestDeadLetterThatCannotBeWrittenHalts checks the metrics of this
// path; this checks the offsets.)
func TestContractDeadLetterNeverWrittenHaltsAtTheRecord(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		cfg := contractConfig(t, "dlq")
		cfg.DLQTopic = kafkatest.Name(t, "missing")
		produceValues(t, c.Brokers, topic, 0, "ok", "ok", "poison", "ok", "ok")
		h := newContractHandler(true)
		reg := prometheus.NewRegistry()
		p := newContractProcessor(t, c.Brokers, topic, cfg, h, processor.Options{Metrics: metrics.New(reg),
			ClientOpts: []kgo.Opt{kgo.UnknownTopicRetries(0), kgo.MetadataMinAge(100 * time.Millisecond)}})
		stop := start(t, p, 15*time.Second)
		kafkatest.Eventually(t, 30*time.Second, "the partition halted", func() bool {
			return gauge(t, reg, "veltrix_halted_partitions") == 1
		})
		adm := kafkatest.Admin(t, c.Brokers)
		ctx := context.Background()
		produceValues(t, c.Brokers, topic, 1, "ok", "ok")
		waitCommitted(t, adm, cfg.Group.ID, topic, map[int32]int64{1: 2}, "the other partition committed", nil)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		got, err := committedAt(ctx, adm, cfg.Group.ID, topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got != 2 {
			t.Fatalf("p0 committed %d, want 2: the record whose dead letter was never written", got)
		}
		if n := counter(t, reg, "veltrix_dlq_errors_total"); n != contractAttempts {
			t.Errorf("veltrix_dlq_errors_total = %v, want %d (a retriable error, tried processor.retry.max_attempts times)", n, contractAttempts)
		}
		for outcome, want := range map[string]float64{"dlq": 0, "halt": 1} {
			if n := counterWith(t, reg, "veltrix_failed_records_total", "outcome", outcome); n != want {
				t.Errorf("veltrix_failed_records_total{outcome=%q} = %v, want %v", outcome, n, want)
			}
		}
	})
}

// contractChildEnv names the variable that makes a test run as the child
// of a test that must survive a crash of the engine.
const contractChildEnv = "VELTRIX_CONTRACT_CHILD"

// TestContractRecordErrorWithoutCause: a *RecordErrors may name a record
// with a nil error (RecordErrors.Add(i, nil)); the contract says the named
// records failed, so under on_failure=dlq the record is dead-lettered and
// its partition goes on. The check runs in a child process, so a crash of
// the engine fails this test instead of ending the package's test binary.
func TestContractRecordErrorWithoutCause(t *testing.T) {
	if os.Getenv(contractChildEnv) == t.Name() {
		contractRecordErrorWithoutCause(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), contractChildEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the check failed or the engine crashed (%v):\n%s", err, tail(out, 4000))
	}
}

func contractRecordErrorWithoutCause(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		cfg := contractConfig(t, "dlq")
		kafkatest.CreateTopic(t, c.Brokers, processor.DLQTopic(cfg, topic), 1)
		produceValues(t, c.Brokers, topic, 0, "ok", "nil-cause", "ok")
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			var errs processor.RecordErrors
			for i, r := range b.Records {
				if string(r.Value) == "nil-cause" {
					errs.Add(i, nil)
				}
			}
			return errs.Err()
		})
		p := newContractProcessor(t, c.Brokers, topic, cfg, h, processor.Options{})
		stop := start(t, p, 15*time.Second)
		adm := kafkatest.Admin(t, c.Brokers)
		waitCommitted(t, adm, cfg.Group.ID, topic, map[int32]int64{0: 3}, "the partition committed past the record", nil)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
