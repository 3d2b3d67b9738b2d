package faults

import (
	"fmt"
	"strings"
	"time"
)

// coordinatorHangScenario is cluster-coordinator-hang: the fault
// cluster-broker-hang leaves out on purpose.
var coordinatorHangScenario = Scenario{
	Name: "cluster-coordinator-hang",
	What: "three brokers: SIGSTOP the group coordinator's broker for longer than its controller session (9 s), then SIGCONT, while producing and processing (2 members); the group must move to the new coordinator while the old one still hangs",
	Run:  coordinatorHang,
}

// coordinatorHangBound is how long the group may take to commit past the
// freeze on every input partition: the members' 6 s session and the
// controller's 9 s session with the hung broker (after which it fences it
// and another broker leads the group's offsets partition and the hung
// one's input partitions), the dialer's 5 s probe of each new connection
// (pkg/kafka/dialer.go) that tells a hung broker from a slow one, and
// slack for a rebalance on a loaded machine. A group that asks the hung
// coordinator until it wakes up stays stalled for the whole freeze, which
// is longer.
const coordinatorHangBound = 30 * time.Second

// coordinatorHang: SIGSTOP the broker coordinating the group (alive but
// hung: its kernel still accepts connections, nothing answers) while
// producing and processing, past the controller's session with it, then
// SIGCONT. franz-go keeps a cached coordinator until a dial to it fails or
// it answers NOT_COORDINATOR; a hung broker does neither unless veltrix's
// dialer probes every new connection, so without the probe the group
// stalls until SIGCONT. With it, once the controller has fenced the
// broker, FindCoordinator names another broker and the group commits
// there while the old coordinator is still hung.
func coordinatorHang(env *Env) (Result, error) {
	res := Result{Scenario: "cluster-coordinator-hang", Cluster: env.Cluster}
	f, err := startClusterFlow(env, "coordhang", 2)
	if err != nil {
		return res, err
	}
	defer f.close()
	r := f.r
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	victim := r.coordinator()
	if victim < 0 {
		return res, fmt.Errorf("cannot tell the coordinator of group %s", r.group)
	}
	leaders, err := r.inputLeaders()
	if err != nil {
		return res, err
	}
	ends, err := endOffsets(r)
	if err != nil {
		return res, err
	}
	frozen := env.dur(30*time.Second, 40*time.Second)
	stopped := time.Now()
	if err := env.Nodes.Node(victim, "stop"); err != nil {
		return res, err
	}
	// SIGCONT whatever happens below: the cluster outlives the scenario.
	continued := false
	cont := func() error {
		if continued {
			return nil
		}
		continued = true
		return env.Nodes.Node(victim, "cont")
	}
	defer func() { _ = cont() }()
	rec, recErr := progressPast(r, ends, frozen)
	moved := r.coordinator() // asked while the old one still hangs
	time.Sleep(time.Until(stopped.Add(frozen)))
	if err := cont(); err != nil {
		return res, err
	}
	if recErr != nil {
		return res, f.stalled(fmt.Errorf("while the group coordinator, broker %d, was hung: %w", victim, recErr))
	}
	env.Log("coordinator broker %d stopped; every partition committed past the freeze after %.1fs; coordinator then: broker %d", victim, rec.Seconds(), moved)
	caughtUp, err := f.caughtUp(fmt.Sprintf("continuing broker %d", victim))
	if err != nil {
		return res, err
	}
	exited, err := f.end(&res, env.dur(2*time.Second, 10*time.Second))
	if err != nil {
		return res, err
	}
	hung := 0
	for _, m := range f.members {
		hung += strings.Count(m.Stderr(), "accepted the connection but answered nothing")
	}
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("SIGSTOP broker %d, the group coordinator and leader of %d of 6 input partitions, for %s (controller session 9s); acknowledged %d; "+
		"recovery = every partition processed and committed past the freeze, while the broker was still hung (bound %s); coordinator during the freeze: broker %d; "+
		"after SIGCONT every replica in sync again in %.1fs; members exited on their own: %d; members' log lines naming the hung broker: %d; duplicates from: %s",
		victim, leaders[victim], frozen, res.Acked, coordinatorHangBound, moved, caughtUp.Seconds(), len(exited), hung, memberEvents(f.members))
	res.Pass = clusterPass(res, exited) && rec <= coordinatorHangBound && moved != victim
	return res, nil
}
