package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
)

// eosRun is one exactly_once proof: an input of n records with unique ids
// (the value), an output topic, and `veltrix process` members forwarding
// one into the other with processor.guarantee=exactly_once.
type eosRun struct {
	t            *testing.T
	bin          string
	brokers      []string
	in, out, grp string
	n            int
	delay        string // handler.simulate.record_delay
	adm          *kadm.Client
	lastErr      string // the last error written logged
}

func newEOSRun(t *testing.T, c kafkatest.Cluster, bin string, n int) *eosRun {
	r := &eosRun{t: t, bin: bin, brokers: c.Brokers, n: n, delay: "3ms",
		in: kafkatest.Name(t, "in"), out: kafkatest.Name(t, "out"), grp: kafkatest.Name(t, "group")}
	kafkatest.CreateTopic(t, c.Brokers, r.in, 6)
	kafkatest.CreateTopic(t, c.Brokers, r.out, 6)
	r.adm = kafkatest.Admin(t, c.Brokers)
	cl := kafkatest.Client(t, c.Brokers)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: r.in, Key: []byte(strconv.Itoa(i % 97)), Value: []byte(strconv.Itoa(i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs a member; id, when not empty, is its static membership id
// (and so its transactional id: <group>-<id>); extra are more flags.
func (r *eosRun) start(name, id string, extra ...string) *child.Process {
	args := []string{"process", "--brokers", strings.Join(r.brokers, ","),
		"--topic", r.in, "--group", r.grp, "--output-topic", r.out, "--metrics-addr", "",
		"--handler", "simulate", "--handler.simulate.forward", "--handler.simulate.record_delay", r.delay,
		"--processor.guarantee", "exactly_once", "--processor.transaction.interval", "100ms",
		"--kafka.client_id", name,
		"--processor.group.session_timeout", "6s", "--processor.group.heartbeat_interval", "500ms",
		"--processor.group.rebalance_timeout", "8s", "--processor.fetch.max_wait", "100ms",
		// Small fetches: a transaction waits for everything polled, so
		// this keeps each one to well under a second of work and the
		// kills and the freeze catch transactions open.
		"--processor.buffer.max_records", "200", "--processor.fetch.max_partition_bytes", "1KiB"}
	if id != "" {
		args = append(args, "--processor.group.instance_id", id)
	}
	args = append(args, extra...)
	m, err := child.Start(name, exec.Command(r.bin, args...))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		m.Kill()
		if r.t.Failed() {
			r.t.Logf("%s:\n%s", name, m.Tail(15))
		}
	})
	return m
}

// written returns how many records the output holds, committed, aborted,
// open and markers alike (the sum of its high watermarks).
func (r *eosRun) written() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := r.adm.ListEndOffsets(ctx, r.out)
	if err != nil {
		// Once per distinct error: with a broker down it repeats on
		// every poll until its leaderships move.
		if msg := err.Error(); msg != r.lastErr {
			r.t.Logf("listing the output's end offsets: %v", err)
			r.lastErr = msg
		}
		return 0
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// read returns how often each id appears in the output, read_committed or
// read_uncommitted.
func (r *eosRun) read(committed bool) map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := map[string]int{}
	read := verify.ReadTopic
	if !committed {
		read = verify.ReadTopicUncommitted
	}
	if _, err := read(ctx, r.out, func(rec *kgo.Record) { seen[string(rec.Value)]++ }, kgo.SeedBrokers(r.brokers...)); err != nil {
		r.t.Fatal(err)
	}
	return seen
}

// waitAll waits until the committed output holds every id.
func (r *eosRun) waitAll(timeout time.Duration, ms func() []*child.Process) {
	kafkatest.Eventually(r.t, timeout, "every input record in the read_committed output", func() bool {
		n := len(r.read(true))
		r.t.Logf("read_committed output: %d distinct of %d", n, r.n)
		if n == r.n {
			return true
		}
		for _, m := range ms() {
			if m.Exited() {
				r.t.Fatalf("%s exited: %s", m.Name(), m.Tail(20))
			}
		}
		return false
	})
}

// check asserts exactly once in the committed output, and returns the
// uncommitted reader's surplus (aborted copies).
func (r *eosRun) check() (lost, dup, aborted int) {
	c := r.read(true)
	for i := range r.n {
		switch k := c[strconv.Itoa(i)]; {
		case k == 0:
			lost++
		case k > 1:
			dup += k - 1
		}
	}
	total := 0
	for _, k := range r.read(false) {
		total += k
	}
	return lost, dup, total - r.n
}

// TestExactlyOnceCrash: members with exactly_once, SIGKILLed at random
// while they work and restarted with the same identity (static membership,
// hence the same transactional id), leave a read_committed output holding
// every input record exactly once, while a read_uncommitted reader sees the
// copies the killed members' open transactions wrote (so the test can fail:
// at_least_once would leave them in the committed output).
func TestExactlyOnceCrash(t *testing.T) {
	eachEOSCluster(t, 6000, "3ms", func(r *eosRun, c kafkatest.Cluster) {
		t := r.t
		ids := []string{"m0", "m1", "m2"}
		ms := make([]*child.Process, len(ids))
		for i, id := range ids {
			ms[i] = r.start(id, id)
		}
		rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
		kills := 0
		written := int64(0)
		for range 6 {
			// Kill only while records are being written (the output's
			// high watermark grew since the last kill), so the kills
			// catch transactions open: a member that has just restarted
			// is still joining.
			kafkatest.Eventually(t, 30*time.Second, "output being written", func() bool {
				w := r.written()
				if w >= written+50 {
					written = w
					return true
				}
				return false
			})
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			i := rng.IntN(len(ms))
			ms[i].Kill()
			kills++
			ms[i] = r.start(fmt.Sprintf("%s-%d", ids[i], kills), ids[i])
		}
		r.waitAll(90*time.Second, func() []*child.Process { return ms })
		for _, m := range ms {
			if _, err := m.Term(20 * time.Second); err != nil {
				t.Error(err)
			}
		}
		if aborted := r.exactlyOnce(fmt.Sprintf("%d kills", kills)); aborted <= 0 {
			t.Errorf("read_uncommitted saw no aborted copies after %d kills: the test would not notice duplicates", kills)
		}
	})
}

// TestExactlyOnceZombie: a member frozen with SIGSTOP past its session
// timeout loses its partitions to the other member; resumed, it cannot
// commit the transaction it had open (its generation is fenced), so the
// read_committed output still holds every record exactly once.
func TestExactlyOnceZombie(t *testing.T) {
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		// The freeze must catch the zombie with a transaction open that
		// wrote records, or the run proves nothing about fencing; when it
		// lands between two (CI saw it on both clusters once), it is run
		// again on fresh topics, up to four times. Lost and duplicated
		// are asserted on every attempt.
		for attempt := 1; attempt <= 4; attempt++ {
			if zombieAttempt(t, c, bin) {
				return
			}
			t.Logf("attempt %d: the freeze did not catch an open transaction with records; again", attempt)
		}
		t.Errorf("read_uncommitted saw no aborted copies in 4 attempts: the zombie's transaction was never caught open")
	})
}

// zombieAttempt runs TestExactlyOnceZombie's scenario once and reports
// whether the zombie's open transaction was caught (aborted copies seen).
func zombieAttempt(t *testing.T, c kafkatest.Cluster, bin string) bool {
	r := newEOSRun(t, c, bin, 6000)
	// Slow records (about 1,000 per partition, 3 partitions a member:
	// some 10 s of work each), so the zombie is frozen mid-work, with a
	// transaction open that has written records, and has work left
	// between tries that miss.
	r.delay = "10ms"
	txnID := r.grp + "-zombie"
	a, b := r.start("zombie", "", "--processor.transaction.id", txnID), r.start("survivor", "")
	kafkatest.Eventually(t, 30*time.Second, "output moving", func() bool {
		return len(r.read(true)) > 300
	})
	// Freeze the zombie while its transaction is open and holds output
	// partitions (the coordinator says so); a freeze between two
	// transactions is undone and tried again once more output was written.
	caught := false
	for try := 0; try < 20; try++ {
		w := r.written()
		if err := a.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		if caught = r.openOn(txnID, r.out); caught {
			break
		}
		if err := a.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		kafkatest.Eventually(t, 30*time.Second, "more output written", func() bool { return r.written() > w+20 })
	}
	if !caught {
		t.Logf("%s: 20 freezes, none caught the zombie's transaction open on the output", c.Name)
	}
	frozen, ends := r.committed(), r.inputEnds()
	// The survivor takes the zombie's partitions after its session
	// timeout (6s) and commits past where the zombie had committed, in
	// every partition that had work left; then the zombie wakes. (A
	// freeze inside End, after the offsets were sent, blocks reading
	// them until the transaction times out: hence the long wait.)
	kafkatest.Eventually(t, 90*time.Second, "the survivor owning every partition and committing past the zombie", func() bool {
		own := r.owners()
		if len(own) != 1 || own["survivor"] != 6 {
			return false
		}
		now := r.committed()
		for p, at := range frozen {
			if now[p] <= at && at < ends[p] {
				return false
			}
		}
		return true
	})
	if err := a.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	r.waitAll(90*time.Second, func() []*child.Process { return []*child.Process{a, b} })
	for _, m := range []*child.Process{a, b} {
		if _, err := m.Term(20 * time.Second); err != nil {
			t.Error(err)
		}
	}
	return r.exactlyOnce("one member frozen past its session timeout") > 0
}

// openOn reports whether the transaction of txnID is open (Ongoing) and
// holds a partition of topic, as its coordinator describes it.
func (r *eosRun) openOn(txnID, topic string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := r.adm.DescribeTransactions(ctx, txnID)
	if err != nil {
		r.t.Logf("describing transaction %s: %v", txnID, err)
		return false
	}
	d, ok := ds[txnID]
	if !ok || d.Err != nil {
		r.t.Logf("describing transaction %s: %v", txnID, d.Err)
		return false
	}
	_, holds := d.Topics[topic]
	if d.State != "Ongoing" || !holds {
		r.t.Logf("transaction %s: %s, partitions %v", txnID, d.State, d.Topics)
		return false
	}
	return true
}

// owners returns how many input partitions each member (by the name it was
// started with) is assigned, as the group coordinator describes the group:
// nil when it cannot say, one "(state …)" entry while the group is not
// stable.
func (r *eosRun) owners() map[string]int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	groups, err := r.adm.DescribeGroups(ctx, r.grp)
	if err != nil {
		return nil
	}
	g := groups[r.grp]
	if g.State != "Stable" {
		return map[string]int{"(state " + g.State + ")": 0}
	}
	own := map[string]int{}
	for _, m := range g.Members {
		// A member's consumer client id is its --kafka.client_id and
		// "-consumer".
		name := strings.TrimSuffix(m.ClientID, "-consumer")
		if ca, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range ca.Topics {
				own[name] += len(tp.Partitions)
			}
		}
	}
	return own
}

// inputEnds returns the end offset of each input partition.
func (r *eosRun) inputEnds() map[int32]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := r.adm.ListEndOffsets(ctx, r.in)
	if err != nil {
		r.t.Fatal(err)
	}
	ends := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return ends
}

// committed returns the group's committed offset of each input partition
// (-1 for none).
func (r *eosRun) committed() map[int32]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := r.adm.FetchOffsets(ctx, r.grp)
	at := map[int32]int64{}
	for p := range int32(6) {
		at[p] = -1
	}
	if err != nil {
		return at
	}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == r.in {
			at[o.Partition] = o.At
		}
	})
	return at
}
