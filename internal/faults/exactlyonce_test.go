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
// (and so its transactional id: <group>-<id>).
func (r *eosRun) start(name, id string) *child.Process {
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
		r.t.Logf("listing the output's end offsets: %v", err)
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
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		r := newEOSRun(t, c, bin, 6000)
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
		lost, dup, aborted := r.check()
		t.Logf("%s: %d records, %d kills: lost %d, duplicated %d (read_committed); %d aborted copies seen read_uncommitted",
			c.Name, r.n, kills, lost, dup, aborted)
		if lost != 0 || dup != 0 {
			t.Errorf("read_committed output: lost %d, duplicated %d; want 0 and 0", lost, dup)
		}
		if aborted <= 0 {
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
	r := newEOSRun(t, c, bin, 3000)
	// Slow records (500 per partition, 3 partitions a member: about
	// 5 s of work each), so the zombie is frozen mid-work, with a
	// transaction open that has written records.
	r.delay = "10ms"
	a, b := r.start("zombie", ""), r.start("survivor", "")
	kafkatest.Eventually(t, 30*time.Second, "output moving", func() bool {
		return len(r.read(true)) > 300
	})
	if err := a.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The survivor takes the zombie's partitions after its session
	// timeout (6s), and works on past the zombie's position.
	time.Sleep(10 * time.Second)
	if err := a.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	r.waitAll(90*time.Second, func() []*child.Process { return []*child.Process{a, b} })
	for _, m := range []*child.Process{a, b} {
		if _, err := m.Term(20 * time.Second); err != nil {
			t.Error(err)
		}
	}
	lost, dup, aborted := r.check()
	t.Logf("%s: lost %d, duplicated %d (read_committed); %d aborted copies read_uncommitted", c.Name, lost, dup, aborted)
	if lost != 0 || dup != 0 {
		t.Errorf("read_committed output: lost %d, duplicated %d; want 0 and 0", lost, dup)
	}
	return aborted > 0
}
