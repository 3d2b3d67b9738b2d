package faults

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"time"

	"github.com/veltrix/veltrix/internal/child"
)

// Chaos is a chaos run's choice: how long, at what rate, with which seed.
type Chaos struct {
	Duration time.Duration // how long faults are injected (default 10m)
	Rate     float64       // events per second produced throughout (default 10000)
	Seed     uint64        // picks the faults, their targets and the pauses
	Members  int           // veltrix process members (default 3)
}

// chaosFault is one kind of fault the chaos run picks from: the cluster
// scenarios' faults and the member faults, each undone before the next.
type chaosFault struct {
	name string
	do   func(c *chaosRun) (string, error)
}

var chaosFaults = []chaosFault{
	{"leader-kill", func(c *chaosRun) (string, error) {
		id, _, err := c.r.busiestLeader()
		if err != nil {
			return "", err
		}
		if err := c.env.Nodes.Node(id, "kill"); err != nil {
			return "", err
		}
		c.pause(5*time.Second, 15*time.Second)
		return fmt.Sprintf("SIGKILL broker %d, the busiest input leader", id), c.env.Nodes.Node(id, "start")
	}},
	{"broker-hang", func(c *chaosRun) (string, error) {
		// Not the group coordinator: a hung coordinator stalls the group
		// for as long as it hangs (docs/RELIABILITY.md).
		coord := c.r.coordinator()
		id := int32(1 + c.rng.IntN(3))
		for id == coord {
			id = int32(1 + c.rng.IntN(3))
		}
		if err := c.env.Nodes.Node(id, "stop"); err != nil {
			return "", err
		}
		c.pause(12*time.Second, 25*time.Second)
		return fmt.Sprintf("SIGSTOP broker %d (coordinator %d)", id, coord), c.env.Nodes.Node(id, "cont")
	}},
	{"broker-restart", func(c *chaosRun) (string, error) {
		id := int32(1 + c.rng.IntN(3))
		return fmt.Sprintf("restart broker %d", id), c.env.Nodes.Node(id, "restart")
	}},
	{"controller-kill", func(c *chaosRun) (string, error) {
		id, err := c.r.activeController()
		if err != nil {
			return "", err
		}
		if err := c.env.Nodes.Node(id, "kill"); err != nil {
			return "", err
		}
		c.pause(5*time.Second, 15*time.Second)
		return fmt.Sprintf("SIGKILL node %d, the active controller", id), c.env.Nodes.Node(id, "start")
	}},
	{"member-kill", func(c *chaosRun) (string, error) {
		i := c.rng.IntN(len(c.members))
		old := c.members[i]
		old.Kill()
		m, err := c.r.start(fmt.Sprintf("%s-%d", strings.SplitN(old.Name(), "-", 2)[0], len(c.log)))
		if err != nil {
			return "", err
		}
		c.members[i] = m
		return fmt.Sprintf("SIGKILL member %s, replaced", old.Name()), nil
	}},
	{"member-freeze", func(c *chaosRun) (string, error) {
		m := c.members[c.rng.IntN(len(c.members))]
		if err := m.Signal(syscall.SIGSTOP); err != nil {
			return "", err
		}
		c.pause(8*time.Second, 12*time.Second) // past its 6 s session
		return fmt.Sprintf("SIGSTOP member %s past its session, then SIGCONT", m.Name()), m.Signal(syscall.SIGCONT)
	}},
	{"scale-up-down", func(c *chaosRun) (string, error) {
		m, err := c.r.start(fmt.Sprintf("extra-%d", len(c.log)))
		if err != nil {
			return "", err
		}
		c.pause(5*time.Second, 10*time.Second)
		_, err = m.Term(40 * time.Second)
		return fmt.Sprintf("member %s joined, then left (SIGTERM)", m.Name()), err
	}},
}

// chaosRun is one chaos run under way.
type chaosRun struct {
	env     *Env
	r       *run
	rng     *rand.Rand
	members []*child.Process
	log     []string
}

func (c *chaosRun) pause(lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(c.rng.Int64N(int64(hi-lo)+1)))
}

// RunChaos injects random faults on the three-node cluster for ch.Duration
// while events flow at ch.Rate through ch.Members members, one fault at a
// time: each is undone (broker started or continued, member replaced) and
// the cluster mended and in sync before a pause and the next. At the end it
// drains, verifies and returns the accounting; the notes list every fault
// with how long the group took to commit past it on every partition.
func RunChaos(env *Env, ch Chaos) (Result, error) {
	res := Result{Scenario: "chaos", Cluster: env.Cluster}
	if ch.Duration <= 0 {
		ch.Duration = 10 * time.Minute
	}
	if ch.Rate <= 0 {
		ch.Rate = 10000
	}
	if ch.Members <= 0 {
		ch.Members = 3
	}
	r, err := clusterRun(env, "chaos")
	if err != nil {
		return res, err
	}
	defer r.close()
	c := &chaosRun{env: env, r: r, rng: rand.New(rand.NewPCG(ch.Seed, ch.Seed^0x9e3779b97f4a7c15))}
	start := time.Now()
	if c.members, err = r.startMembers(ch.Members, "m"); err != nil {
		return res, err
	}
	stopProducing := producingUntil(r, ch.Rate)
	defer func() { _, _ = stopProducing() }()
	if err := flowing(r, 6, 2*time.Minute); err != nil {
		return res, err
	}
	env.Log("flowing at %.0f events/s with %d members %.1fs after the start; faults for %s, seed %d", ch.Rate, ch.Members, time.Since(start).Seconds(), ch.Duration, ch.Seed)
	var worst time.Duration
	counts := map[string]int{}
	deadline := time.Now().Add(ch.Duration)
	for time.Now().Before(deadline) {
		c.pause(5*time.Second, 15*time.Second)
		f := chaosFaults[c.rng.IntN(len(chaosFaults))]
		ends, err := endOffsets(r)
		if err != nil {
			return res, err
		}
		began := time.Now()
		what, err := f.do(c)
		if err != nil {
			return res, fmt.Errorf("%s: %w", f.name, err)
		}
		if err := env.Nodes.Heal(); err != nil {
			return res, err
		}
		rec, err := progressPast(r, ends, 3*time.Minute)
		if err != nil {
			return res, fmt.Errorf("after %s: %w", what, err)
		}
		if _, err := r.inSync(3*time.Minute, true); err != nil {
			return res, fmt.Errorf("after %s: %w", what, err)
		}
		worst = max(worst, rec)
		counts[f.name]++
		line := fmt.Sprintf("%s at +%.0fs: committed past it on every partition after %.1fs", what, began.Sub(start).Seconds(), rec.Seconds())
		c.log = append(c.log, line)
		env.Log("%s", line)
	}
	produced, err := stopProducing()
	if err != nil {
		return res, err
	}
	exited := exitedOnTheirOwn(c.members)
	if err := finish(r, &res, start, 5*time.Minute); err != nil {
		return res, err
	}
	rate := float64(produced) / time.Since(start).Seconds()
	res.RecoverySec = worst.Seconds()
	res.Notes = fmt.Sprintf("%s of random faults, seed %d, %d faults %v at %.0f events/s asked (%.0f/s acknowledged over the run) through %d members; recovery = the longest any fault took until every partition committed past it; "+
		"members exited on their own: %d; duplicates from: %s",
		ch.Duration, ch.Seed, len(c.log), counts, ch.Rate, rate, ch.Members, len(exited), memberEvents(c.allMembers()))
	for _, e := range exited {
		env.Log("%s", e)
	}
	res.Pass = clusterPass(res, exited)
	return res, nil
}

func (c *chaosRun) allMembers() []*child.Process {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	return append([]*child.Process(nil), c.r.members...)
}
