package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
)

// ClusterScenarios run on the three-node cluster (scripts/kafka.sh
// start-cluster, VELTRIX_TEST_CLUSTER): broker failures with topics at
// replication factor 3 and min.insync.replicas 2, acks=all idempotent
// producers (the test's and the members' forward producers), and every
// acknowledged event tracked to the end.
var ClusterScenarios = []Scenario{
	{Name: "cluster-leader-kill", What: "three brokers: SIGKILL the broker leading most input partitions while producing and processing (2 members), restart it on its data", Run: leaderKill},
	{Name: "cluster-broker-hang", What: "three brokers: SIGSTOP the broker leading most input partitions that is not the group coordinator for longer than its controller session (9 s), then SIGCONT, while producing and processing (2 members)", Run: brokerHang},
	{Name: "cluster-rolling-restart", What: "three brokers: restart each broker in turn (SIGTERM, controlled shutdown), waiting for every replica to be in sync before the next, while producing and processing (2 members)", Run: brokerRollingRestart},
}

// clusterRun mends the cluster, then makes a run on it that tracks every
// acknowledgement and whose topics are fully in sync.
func clusterRun(env *Env, name string) (*run, error) {
	if env.Nodes == nil {
		return nil, errSkip
	}
	if err := env.Nodes.Heal(); err != nil {
		return nil, err
	}
	r, err := newRun(env, name)
	if err != nil {
		return nil, err
	}
	r.trackAcks()
	if _, err := r.inSync(time.Minute, false); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// clusterFlow is a cluster scenario under way: its run on a mended
// cluster, its members, and events produced at the scenario's rate, with
// the group committing on every input partition.
type clusterFlow struct {
	r             *run
	members       []*child.Process
	start         time.Time
	stopProducing func() (int64, error)
}

// startClusterFlow makes a clusterRun named name, starts members members
// (m0 …) and the producer, and returns once the group has committed on
// every input partition.
func startClusterFlow(env *Env, name string, members int, extra ...string) (*clusterFlow, error) {
	r, err := clusterRun(env, name)
	if err != nil {
		return nil, err
	}
	f := &clusterFlow{r: r, start: time.Now(), stopProducing: func() (int64, error) { return 0, nil }}
	if f.members, err = r.startMembers(members, "m", extra...); err != nil {
		f.close()
		return nil, err
	}
	f.stopProducing = producingUntil(r, env.pick(1000, 3000))
	if err := flowing(r, 6, time.Minute); err != nil {
		f.close()
		return nil, err
	}
	env.Log("flowing %.1fs after the start", time.Since(f.start).Seconds())
	return f, nil
}

// close stops producing, then every member and the run's probes.
func (f *clusterFlow) close() {
	_, _ = f.stopProducing()
	f.r.close()
}

// stalled logs the tail of every member's stderr, which tells why the
// group did not move on while the fault lasted, and returns err.
func (f *clusterFlow) stalled(err error) error {
	for _, m := range f.members {
		f.r.env.Log("%s:\n%s", m.Name(), tail(m.Stderr()))
	}
	return err
}

// caughtUp waits, once the fault is undone, until every replica of the
// run's topics and of the group's offsets topic is in sync again, and
// returns how long that took. An error names the undoing, after ("after
// continuing broker 2: …"), unless after is empty.
func (f *clusterFlow) caughtUp(after string) (time.Duration, error) {
	began := time.Now()
	if _, err := f.r.inSync(2*time.Minute, true); err != nil {
		if after != "" {
			err = fmt.Errorf("after %s: %w", after, err)
		}
		return 0, err
	}
	return time.Since(began), nil
}

// end is how every cluster scenario ends, its fault over: traffic flows
// for settle, producing stops, the group drains and its members stop
// gracefully, and the run is verified into res. It returns the members
// that exited on their own before being stopped, each logged.
func (f *clusterFlow) end(res *Result, settle time.Duration) ([]string, error) {
	time.Sleep(settle)
	if _, err := f.stopProducing(); err != nil {
		return nil, err
	}
	exited := exitedOnTheirOwn(f.members)
	if err := finish(f.r, res, f.start, 2*time.Minute); err != nil {
		return nil, err
	}
	for _, e := range exited {
		f.r.env.Log("%s", e)
	}
	return exited, nil
}

// inSync waits until three brokers are listed and every partition of the
// run's topics (and of the group's offsets topic, once the group commits)
// has all three replicas in sync, asking with fresh metadata requests.
func (r *run) inSync(limit time.Duration, offsets bool) (kafkatest.ClusterState, error) {
	topics := []string{r.in, r.out, r.dlq}
	if offsets {
		topics = append(topics, "__consumer_offsets")
	}
	cl, _ := r.clients()
	return kafkatest.WaitInSync(context.Background(), cl, 3, limit, topics...)
}

// inputLeaders counts the input partitions each broker leads, once
// every replica is in sync.
func (r *run) inputLeaders() (map[int32]int, error) {
	st, err := r.inSync(30*time.Second, false)
	if err != nil {
		return nil, err
	}
	leaders := map[int32]int{}
	for _, p := range st.Partitions {
		if p.Topic == r.in {
			leaders[p.Leader]++
		}
	}
	return leaders, nil
}

// busiestLeader returns the broker leading most partitions of the input
// (the lowest id of a tie), and how many it leads.
func (r *run) busiestLeader() (int32, int, error) {
	leaders, err := r.inputLeaders()
	if err != nil {
		return 0, 0, err
	}
	var id int32 = -1
	most := 0
	for b, n := range leaders {
		if n > most || n == most && b < id {
			id, most = b, n
		}
	}
	if id < 0 {
		return 0, 0, fmt.Errorf("no leader of %s", r.in)
	}
	return id, most, nil
}

// coordinator returns the broker coordinating the run's group, asked with
// a FindCoordinator request of its own (-1 when it cannot be told).
func (r *run) coordinator() int32 {
	cl, _ := r.clients()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = r.group
	req.CoordinatorKeys = []string{r.group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return -1
	}
	if len(resp.Coordinators) > 0 {
		return resp.Coordinators[0].NodeID
	}
	return resp.NodeID
}

// prober reads the group's committed offsets for progressPast with a
// client of its own, replaced after every failed read: a franz-go client
// keeps sending to the coordinator it found until that one answers
// NOT_COORDINATOR, and a hung broker answers nothing, so the run's own
// client would report no progress for as long as the broker hangs.
type prober struct {
	r  *run
	cl *kgo.Client
}

func (p *prober) committed() (map[int32]int64, error) {
	if p.cl == nil {
		cl, err := newRunClient(p.r.env, "probe") // dials as veltrix does: see newRunClient
		if err != nil {
			return nil, err
		}
		p.cl = cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(p.cl).FetchOffsets(ctx, p.r.group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		p.close()
		return nil, err
	}
	c := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == p.r.in {
			c[o.Partition] = o.At
		}
	})
	return c, nil
}

func (p *prober) close() {
	if p.cl != nil {
		p.cl.Close()
		p.cl = nil
	}
}

// progressPast waits until the group has committed, on every partition of
// the input, past the end offset given (an event produced after that point
// was processed and committed), and returns how long that took. It fails
// at limit, or at once when every member has exited.
func progressPast(r *run, ends map[int32]int64, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	p := &prober{r: r}
	defer p.close()
	var last map[int32]int64
	var lastErr error
	for time.Since(start) < limit {
		if dead := r.allExited(); dead != "" {
			return time.Since(start), fmt.Errorf("no live member:\n%s", dead)
		}
		c, err := p.committed()
		lastErr = err
		if err == nil {
			last = c
			past := true
			for p, end := range ends {
				if c[p] <= end {
					past = false
				}
			}
			if past {
				return time.Since(start), nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return limit, fmt.Errorf("some partition committed nothing past %v within %s (last committed %v, last error %v)", ends, limit, last, lastErr)
}

// flowing waits until the group committed on every partition of the input.
func flowing(r *run, partitions int, limit time.Duration) error {
	zero := map[int32]int64{}
	for p := range int32(partitions) {
		zero[p] = 0
	}
	_, err := progressPast(r, zero, limit)
	return err
}

// endOffsets returns the input's end offsets now, retried while the cluster
// is changing.
func endOffsets(r *run) (map[int32]int64, error) {
	var err error
	for range 10 {
		var ends map[int32]int64
		if _, ends, err = r.committed(); err == nil {
			return ends, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return nil, err
}

// exitedOnTheirOwn names the members that exited before the scenario
// stopped them.
func exitedOnTheirOwn(ms []*child.Process) []string {
	var out []string
	for _, m := range ms {
		if m.Exited() {
			out = append(out, fmt.Sprintf("%s (exit %d):\n%s", m.Name(), m.ExitCode(), tail(m.Stderr())))
		}
	}
	return out
}

// memberEvents counts what the members logged that explains redelivered
// (duplicated) events: commits that failed while a group coordinator
// moved, partitions lost without a clean revoke, rejoins as a new member.
func memberEvents(ms []*child.Process) string {
	var b strings.Builder
	for _, what := range []struct{ label, line string }{
		{"commit failures", "commit failed"},
		{"batch commit failures", "batch commit failed"},
		{"partitions lost", "partitions lost without a clean revoke"},
		{"rejoins", "rejoined the group as a new member"},
	} {
		n := 0
		for _, m := range ms {
			n += strings.Count(m.Stderr(), what.line)
		}
		fmt.Fprintf(&b, "%s %d, ", what.label, n)
	}
	return strings.TrimSuffix(b.String(), ", ")
}

// clusterPass is the guarantee every cluster scenario promises: nothing
// acknowledged lost, nothing reordered, no member that gave up.
func clusterPass(res Result, exited []string) bool {
	return res.Lost == 0 && res.OutOfOrder == 0 && len(exited) == 0 && res.Acked > 0
}

// leaderKill: SIGKILL the broker leading most input partitions while
// producing and processing. Its partitions get new leaders from the in-sync
// followers once the controller's session with it expires; the producers
// and members find them by themselves.
func leaderKill(env *Env) (Result, error) {
	res := Result{Scenario: "cluster-leader-kill", Cluster: env.Cluster}
	f, err := startClusterFlow(env, "leaderkill", 2)
	if err != nil {
		return res, err
	}
	defer f.close()
	r := f.r
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	victim, led, err := r.busiestLeader()
	if err != nil {
		return res, err
	}
	coord := r.coordinator()
	ends, err := endOffsets(r)
	if err != nil {
		return res, err
	}
	// At full scale, veltrix lag and Kafka's ConsumerGroupCommand side by
	// side from before the kill until every replica is back in sync (a
	// JVM start per sample is too slow for CI's budget).
	var lc *lagCompare
	if env.Full {
		lc = compareLag(r)
		defer lc.close()
		time.Sleep(5 * time.Second) // a sample or two before the kill
	}
	killed := time.Now()
	if err := env.Nodes.Node(victim, "kill"); err != nil {
		return res, err
	}
	rec, err := progressPast(r, ends, env.dur(time.Minute, 2*time.Minute))
	if err != nil {
		return res, fmt.Errorf("after killing broker %d: %w", victim, err)
	}
	env.Log("broker %d killed (led %d of 6 input partitions); every partition committed past the kill after %.1fs", victim, led, rec.Seconds())
	time.Sleep(env.dur(2*time.Second, 15*time.Second)) // traffic on two brokers
	if err := env.Nodes.Node(victim, "start"); err != nil {
		return res, err
	}
	env.Log("broker %d started again %.1fs after the kill", victim, time.Since(killed).Seconds())
	if _, err := f.caughtUp(fmt.Sprintf("restarting broker %d", victim)); err != nil {
		return res, err
	}
	back := time.Since(killed)
	env.Log("every replica in sync %.1fs after the kill", back.Seconds())
	lagNote, lagOK := "", true
	if lc != nil {
		v := judgeLag(lc.close())
		// The two read up to a few seconds apart: the producer's rate
		// times that is the tolerance on the peak total lag.
		lagOK = v.ok(int64(env.pick(1000, 3000)) * 5)
		lagNote = "; " + v.String()
		env.Log("%s (first error %v)", v, v.firstErr)
	}
	exited, err := f.end(&res, env.dur(time.Second, 10*time.Second))
	if err != nil {
		return res, err
	}
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("SIGKILL broker %d, leader of %d of 6 input partitions; acknowledged %d; recovery = every partition processed and committed past the kill; "+
		"broker back on its data and every replica in sync %.0fs after the kill; members exited on their own: %d; group coordinator on broker %d; duplicates from: %s",
		victim, led, res.Acked, back.Seconds(), len(exited), coord, memberEvents(f.members)) + lagNote
	// The controller notices a dead broker after its 9 s session; then
	// leader election and the clients' metadata refresh.
	res.Pass = clusterPass(res, exited) && rec <= 30*time.Second && lagOK
	return res, nil
}

// brokerHang: SIGSTOP the busiest leader of the input that is not the
// group coordinator (alive but hung: its sockets stay open, nothing
// answers) for longer than its session with the controller, then SIGCONT.
// The controller fences it and moves its leaderships; the pipeline must
// move on while it is still hung, and the broker must catch up and rejoin
// every ISR once continued.
func brokerHang(env *Env) (Result, error) {
	res := Result{Scenario: "cluster-broker-hang", Cluster: env.Cluster}
	f, err := startClusterFlow(env, "hang", 2)
	if err != nil {
		return res, err
	}
	defer f.close()
	r := f.r
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	// The busiest leader that does not coordinate the group. A hung
	// coordinator stalls the group for as long as it hangs (franz-go
	// forgets a cached coordinator on a failed dial or NOT_COORDINATOR,
	// not on a read timeout to a broker that accepted the connection):
	// measured and reported apart, in the notes of docs/RELIABILITY.md.
	coord := r.coordinator()
	leaders, err := r.inputLeaders()
	if err != nil {
		return res, err
	}
	var victim int32 = -1
	led := 0
	for b, n := range leaders {
		if b != coord && (n > led || n == led && b < victim) {
			victim, led = b, n
		}
	}
	if victim < 0 {
		return res, fmt.Errorf("every leader of %s is the group coordinator %d", r.in, coord)
	}
	ends, err := endOffsets(r)
	if err != nil {
		return res, err
	}
	// broker.session.timeout.ms is 9 s; the clients' requests to the hung
	// broker time out after their request timeout plus overhead.
	frozen := env.dur(30*time.Second, 45*time.Second)
	stopped := time.Now()
	if err := env.Nodes.Node(victim, "stop"); err != nil {
		return res, err
	}
	rec, recErr := progressPast(r, ends, frozen)
	time.Sleep(time.Until(stopped.Add(frozen)))
	if err := env.Nodes.Node(victim, "cont"); err != nil {
		return res, err
	}
	if recErr != nil {
		return res, f.stalled(fmt.Errorf("while broker %d was hung: %w", victim, recErr))
	}
	caughtUp, err := f.caughtUp(fmt.Sprintf("continuing broker %d", victim))
	if err != nil {
		return res, err
	}
	exited, err := f.end(&res, env.dur(2*time.Second, 10*time.Second))
	if err != nil {
		return res, err
	}
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("SIGSTOP broker %d, leader of %d of 6 input partitions (the group coordinator is broker %d), for %s (controller session 9s); acknowledged %d; recovery = every partition processed and committed past the freeze, "+
		"while the broker was still hung; after SIGCONT every replica in sync again in %.1fs; members exited on their own: %d; duplicates from: %s",
		victim, led, coord, frozen, res.Acked, caughtUp.Seconds(), len(exited), memberEvents(f.members))
	res.Pass = clusterPass(res, exited) && rec < frozen
	return res, nil
}

// brokerRollingRestart: restart the three brokers one at a time as an
// upgrade does — SIGTERM (a controlled shutdown: leaderships handed over
// first), start on the same data, and wait until every replica is in sync
// before the next — while producing and processing. The pause is how long
// the group took to commit past each restart's start on every partition.
func brokerRollingRestart(env *Env) (Result, error) {
	res := Result{Scenario: "cluster-rolling-restart", Cluster: env.Cluster}
	f, err := startClusterFlow(env, "brokerroll", 2)
	if err != nil {
		return res, err
	}
	defer f.close()
	r := f.r
	var worst time.Duration
	var steps []string
	for _, id := range []int32{1, 2, 3} {
		time.Sleep(env.dur(time.Second, 10*time.Second))
		ends, err := endOffsets(r)
		if err != nil {
			return res, err
		}
		// The pipeline's progress is watched from the restart's start,
		// while the restart and the wait for the ISR go on.
		type progress struct {
			d   time.Duration
			err error
		}
		moved := make(chan progress, 1)
		go func() {
			d, err := progressPast(r, ends, 3*time.Minute)
			moved <- progress{d, err}
		}()
		coord := r.coordinator()
		began := time.Now()
		if err := env.Nodes.Node(id, "restart"); err != nil {
			return res, err
		}
		up := time.Since(began)
		if _, err := r.inSync(2*time.Minute, true); err != nil {
			return res, fmt.Errorf("after restarting broker %d: %w", id, err)
		}
		inSync := time.Since(began)
		p := <-moved
		if p.err != nil {
			return res, fmt.Errorf("after restarting broker %d: %w", id, p.err)
		}
		worst = max(worst, p.d)
		was := ""
		if coord == id {
			was = " (the group coordinator)"
		}
		steps = append(steps, fmt.Sprintf("broker %d%s up %.0fs, in sync %.0fs", id, was, up.Seconds(), inSync.Seconds()))
	}
	exited, err := f.end(&res, env.dur(2*time.Second, 10*time.Second))
	if err != nil {
		return res, err
	}
	res.RecoverySec = worst.Seconds()
	res.Notes = fmt.Sprintf("%s; acknowledged %d; recovery = the longest a restart took until every partition was committed past its start; "+
		"members exited on their own: %d; duplicates from: %s",
		strings.Join(steps, ", "), res.Acked, len(exited), memberEvents(f.members))
	res.Pass = clusterPass(res, exited)
	return res, nil
}
