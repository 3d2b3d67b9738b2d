package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
)

// ExtendedClusterScenarios run on the three-node cluster like
// ClusterScenarios, but only with -faults.full (scripts/faults.sh) or when
// -faults.only names them: CI runs ClusterScenarios alone, within its time
// budget.
var ExtendedClusterScenarios = []Scenario{
	{Name: "cluster-controller-kill", What: "three brokers: SIGKILL the active KRaft controller (a combined node, found with a DescribeQuorum request) while producing and processing (2 members), restart it on its data", Run: controllerKill},
	{Name: "cluster-two-down", What: "three brokers: stop two of them (controlled shutdowns) so every partition has one replica in sync, below min.insync.replicas 2, while producing and processing (2 members); then start one again", Run: twoDown},
	{Name: "cluster-rebalance-leader-kill", What: "three brokers: scale the group 1 → 3 members and SIGKILL the busiest input leader at the same moment, while producing", Run: rebalanceLeaderKill},
	coordinatorHangScenario,
	keyOrdered("cluster-rolling-restart", "three brokers: restart each broker in turn (SIGTERM, controlled shutdown), waiting for every replica to be in sync before the next, while producing and processing (2 members)", brokerRollingRestart, false),
	{Name: "cluster-rf1-leader-kill", What: "counter-example: the input topic at replication factor 1 on the three brokers; `config doctor` must call it an error; SIGKILL the broker holding most input partitions, delete those partitions' data (a lost disk), restart it", Run: rf1LeaderKill},
}

// activeController asks the cluster which node leads the KRaft metadata
// quorum, with a DescribeQuorum request of its own.
func (r *run) activeController() (int32, error) {
	cl, _ := r.clients()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	p := kmsg.NewDescribeQuorumRequestTopicPartition()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return -1, fmt.Errorf("describing the metadata quorum: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return -1, fmt.Errorf("describing the metadata quorum: %w", err)
	}
	if len(resp.Topics) == 0 || len(resp.Topics[0].Partitions) == 0 {
		return -1, errors.New("describing the metadata quorum: empty answer")
	}
	rp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		return -1, fmt.Errorf("describing the metadata quorum: %w", err)
	}
	return rp.LeaderID, nil
}

// newController waits until the quorum names a leader other than old, and
// returns it and how long that took.
func (r *run) newController(old int32, limit time.Duration) (int32, time.Duration, error) {
	start := time.Now()
	var last error
	for time.Since(start) < limit {
		id, err := r.activeController()
		if err == nil && id >= 0 && id != old {
			return id, time.Since(start), nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return -1, limit, fmt.Errorf("no controller other than %d within %s (last error %v)", old, limit, last)
}

// controllerKill: SIGKILL the node leading the KRaft quorum. The other two
// voters elect a new leader; the node was also a broker, so its partition
// leaderships move too once the new controller fences it.
func controllerKill(env *Env) (Result, error) {
	res := Result{Scenario: "cluster-controller-kill", Cluster: env.Cluster}
	f, err := startClusterFlow(env, "ctrlkill", 2)
	if err != nil {
		return res, err
	}
	defer f.close()
	r := f.r
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	victim, err := r.activeController()
	if err != nil {
		return res, err
	}
	leaders, err := r.inputLeaders()
	if err != nil {
		return res, err
	}
	coord := r.coordinator()
	ends, err := endOffsets(r)
	if err != nil {
		return res, err
	}
	killed := time.Now()
	if err := env.Nodes.Node(victim, "kill"); err != nil {
		return res, err
	}
	next, elected, err := r.newController(victim, time.Minute)
	if err != nil {
		return res, err
	}
	rec, err := progressPast(r, ends, env.dur(time.Minute, 2*time.Minute))
	if err != nil {
		return res, fmt.Errorf("after killing controller %d: %w", victim, err)
	}
	env.Log("controller %d killed; node %d leads the quorum after %.1fs; every partition committed past the kill after %.1fs", victim, next, elected.Seconds(), rec.Seconds())
	time.Sleep(env.dur(2*time.Second, 15*time.Second))
	if err := env.Nodes.Node(victim, "start"); err != nil {
		return res, err
	}
	if _, err := f.caughtUp(fmt.Sprintf("restarting node %d", victim)); err != nil {
		return res, err
	}
	back := time.Since(killed)
	exited, err := f.end(&res, env.dur(time.Second, 10*time.Second))
	if err != nil {
		return res, err
	}
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("SIGKILL node %d, the active controller, also leader of %d of 6 input partitions (group coordinator: broker %d); node %d led the quorum %.1fs later; acknowledged %d; "+
		"recovery = every partition processed and committed past the kill; node back and every replica in sync %.0fs after the kill; members exited on their own: %d; duplicates from: %s",
		victim, leaders[victim], coord, next, elected.Seconds(), res.Acked, back.Seconds(), len(exited), memberEvents(f.members))
	res.Pass = clusterPass(res, exited) && rec <= 30*time.Second
	return res, nil
}

// probeNotEnoughReplicas writes one record with acks=all and no retries to
// topic until a broker answers NOT_ENOUGH_REPLICAS, and returns how long
// that took; the pipeline's own producers retry that error silently until
// their delivery timeout, so only a probe of its own sees it.
func probeNotEnoughReplicas(brokers []string, topic string, limit time.Duration) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("faults-probe-isr"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite(), kgo.RecordRetries(0),
		kgo.DefaultProduceTopic(topic))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	start := time.Now()
	var last error
	for time.Since(start) < limit {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = cl.ProduceSync(ctx, kgo.StringRecord("probe")).FirstErr()
		cancel()
		if errors.Is(last, kerr.NotEnoughReplicas) {
			return time.Since(start), nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return limit, fmt.Errorf("no NOT_ENOUGH_REPLICAS from %s within %s (last answer: %v)", topic, limit, last)
}

// doctor runs `veltrix config doctor` on the run's topics against brokers
// and returns what it printed; an exit status of 1 (error findings) is an
// answer, not a failure.
func (r *run) doctor(brokers []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, r.env.Bin, "config", "doctor", "--brokers", strings.Join(brokers, ","),
		"--topic", r.in, "--handler", "forward", "--output-topic", r.out, "--processor.dlq_topic", r.dlq).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return string(out), fmt.Errorf("running config doctor: %w\n%s", err, out)
	}
	return string(out), nil
}

// memberMetrics sums a metric over the members' /metrics (run with
// --metrics-addr 127.0.0.1:0), skipping members that exited.
func memberMetrics(ms []*child.Process, name string) float64 {
	var sum float64
	for _, m := range ms {
		if m.Exited() {
			continue
		}
		url, err := metricsURL(m, time.Second)
		if err != nil {
			continue
		}
		v, _, _ := scrape(url, name)
		sum += v
	}
	return sum
}

// twoDown: stop two brokers, one after the other, with controlled
// shutdowns, so each hands its leaderships over and leaves every ISR first:
// the survivor then leads every partition with itself alone in sync, below
// min.insync.replicas 2, and must refuse every acks=all write with
// NOT_ENOUGH_REPLICAS. (Killing them would leave the survivor without a
// controller quorum to shrink the ISRs: writes would time out instead.)
// Nothing may be acknowledged until a broker returns; then everything
// flows again.
func twoDown(env *Env) (Result, error) {
	res := Result{Scenario: "cluster-two-down", Cluster: env.Cluster}
	f, err := startClusterFlow(env, "twodown", 2, "--metrics-addr", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	defer f.close()
	r, members := f.r, f.members
	probe := r.in + "-probe"
	two := "2"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err = kafkatest.CreateReplicatedTopics(ctx, []kgo.Opt{kgo.SeedBrokers(env.Brokers...)}, 1, 3,
		map[string]*string{"min.insync.replicas": &two}, probe)
	cancel()
	if err != nil {
		return res, err
	}
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	// The group coordinator survives, so the group keeps its coordinator.
	survivor := r.coordinator()
	if survivor < 1 {
		survivor = 1
	}
	var down []int32
	for id := int32(1); id <= 3; id++ {
		if id != survivor {
			down = append(down, id)
		}
	}
	only := []string{env.Brokers[survivor-1]}
	before := map[string]float64{}
	watched := []string{"veltrix_produce_errors_total", "veltrix_commit_errors_total", "veltrix_handler_timeouts_total"}
	for _, m := range watched {
		before[m] = memberMetrics(members, m)
	}
	logsBefore := make([]int, len(members))
	for i, m := range members {
		logsBefore[i] = len(m.Stderr())
	}
	stopped := time.Now()
	for _, id := range down {
		if err := env.Nodes.Node(id, "term"); err != nil {
			return res, err
		}
	}
	env.Log("brokers %v stopped in %.1fs; broker %d alone", down, time.Since(stopped).Seconds(), survivor)
	refused, err := probeNotEnoughReplicas(only, probe, time.Minute)
	if err != nil {
		return res, err
	}
	ackedBelow := r.acked.len()
	doc, err := r.doctor(only)
	if err != nil {
		return res, err
	}
	doctorSaw := strings.Contains(doc, "NOT_ENOUGH_REPLICAS")
	env.Log("config doctor with two brokers down:\n%s", doc)
	hold := env.dur(10*time.Second, 30*time.Second)
	time.Sleep(hold)
	var ready float64
	for _, m := range members {
		if url, err := metricsURL(m, time.Second); err == nil {
			v, _, _ := scrape(url, "veltrix_ready")
			ready += v
		}
	}
	surfaced := []string{}
	for _, m := range watched {
		surfaced = append(surfaced, fmt.Sprintf("%s +%.0f", strings.TrimPrefix(m, "veltrix_"), memberMetrics(members, m)-before[m]))
	}
	var outage strings.Builder
	for i, m := range members {
		outage.WriteString(m.Stderr()[logsBefore[i]:])
	}
	ackedDuring := r.acked.len() - ackedBelow
	ends, err := endOffsets(r)
	if err != nil {
		return res, err
	}
	returned := time.Now()
	if err := env.Nodes.Node(down[0], "start"); err != nil {
		return res, err
	}
	up := time.Since(returned)
	rec, err := progressPast(r, ends, 2*time.Minute)
	if err != nil {
		return res, fmt.Errorf("after starting broker %d again: %w", down[0], err)
	}
	env.Log("broker %d up %.1fs after its start; every partition committed past the outage %.1fs after its start", down[0], up.Seconds(), rec.Seconds())
	if err := env.Nodes.Node(down[1], "start"); err != nil {
		return res, err
	}
	if _, err := f.caughtUp(""); err != nil {
		return res, err
	}
	exited, err := f.end(&res, env.dur(time.Second, 5*time.Second))
	if err != nil {
		return res, err
	}
	logged := strings.Count(outage.String(), "\n")
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("controlled shutdown of brokers %v, broker %d alone in every ISR; a probe write (acks=all, no retries) got NOT_ENOUGH_REPLICAS %.1fs after the stops; "+
		"acknowledged while below min.insync.replicas for %s: %d; config doctor with one broker reported NOT_ENOUGH_REPLICAS: %v; members ready (veltrix_ready) at the end of the outage: %.0f of %d; "+
		"during the outage: %s, %d member log lines (their producers retry NOT_ENOUGH_REPLICAS silently until their delivery timeout); "+
		"recovery = from starting broker %d (up in %.0fs) until every partition committed past the outage; acknowledged %d; members exited on their own: %d; duplicates from: %s",
		down, survivor, refused.Seconds(), hold, ackedDuring, doctorSaw, ready, len(members), strings.Join(surfaced, ", "), logged,
		down[0], up.Seconds(), res.Acked, len(exited), memberEvents(members))
	res.Pass = clusterPass(res, exited) && ackedDuring == 0 && doctorSaw
	return res, nil
}

// ownership samples the group's assignment as the coordinator describes it
// and each member's own count of owned partitions (veltrix_partitions_assigned),
// until stop is called: a partition in two members' assignments at once,
// or members together owning more partitions than the topic has, would be
// two owners at a time.
type ownership struct {
	r        *run
	ms       func() []*child.Process
	parts    int
	mu       sync.Mutex
	overlaps []string
	maxOwned float64
	samples  int
	stop     chan struct{}
	done     chan struct{}
}

func watchOwnership(r *run, parts int, ms func() []*child.Process) *ownership {
	o := &ownership{r: r, ms: ms, parts: parts, stop: make(chan struct{}), done: make(chan struct{})}
	go o.run()
	return o
}

func (o *ownership) run() {
	defer close(o.done)
	for {
		select {
		case <-o.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
		_, adm := o.r.clients()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		groups, err := adm.DescribeGroups(ctx, o.r.group)
		cancel()
		owners := map[int32][]string{}
		if err == nil {
			for _, m := range groups[o.r.group].Members {
				if ca, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range ca.Topics {
						for _, p := range t.Partitions {
							owners[p] = append(owners[p], m.ClientID)
						}
					}
				}
			}
		}
		owned := memberMetrics(o.ms(), "veltrix_partitions_assigned")
		o.mu.Lock()
		o.samples++
		o.maxOwned = max(o.maxOwned, owned)
		for p, who := range owners {
			if len(who) > 1 {
				o.overlaps = append(o.overlaps, fmt.Sprintf("p%d %v", p, who))
			}
		}
		o.mu.Unlock()
	}
}

func (o *ownership) close() {
	select {
	case <-o.stop:
	default:
		close(o.stop)
	}
	<-o.done
}

// rewindWatch records every committed offset of the group that went
// backwards, sampled every 100ms until close: a second owner committing
// for a partition would rewind it.
type rewindWatch struct {
	mu      sync.Mutex
	rewinds []string
	stop    chan struct{}
	done    chan struct{}
}

func watchRewinds(r *run) *rewindWatch {
	w := &rewindWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		high := map[int32]int64{}
		for {
			if c, _, err := r.committed(); err == nil {
				w.mu.Lock()
				for p, off := range c {
					if off < high[p] {
						w.rewinds = append(w.rewinds, fmt.Sprintf("p%d %d→%d", p, high[p], off))
					}
					high[p] = max(high[p], off)
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

// close stops watching and returns the rewinds seen.
func (w *rewindWatch) close() []string {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.rewinds...)
}

// rebalanceLeaderKill: one member processes; two more join and the busiest
// input leader is SIGKILLed at the same moment, so leaderships move while
// the cooperative rebalance hands partitions over. Every partition must
// keep one owner at a time and the group must settle with all three.
func rebalanceLeaderKill(env *Env) (Result, error) {
	res := Result{Scenario: "cluster-rebalance-leader-kill", Cluster: env.Cluster}
	metrics := []string{"--metrics-addr", "127.0.0.1:0"}
	f, err := startClusterFlow(env, "rebalkill", 1, metrics...)
	if err != nil {
		return res, err
	}
	defer f.close()
	r := f.r
	// The joiners are added to f.members while the ownership watch reads
	// them.
	var msMu sync.Mutex
	current := func() []*child.Process {
		msMu.Lock()
		defer msMu.Unlock()
		return append([]*child.Process(nil), f.members...)
	}
	rewinds := watchRewinds(r)
	defer rewinds.close()
	owners := watchOwnership(r, 6, current)
	defer owners.close()
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	victim, led, err := r.busiestLeader()
	if err != nil {
		return res, err
	}
	ends, err := endOffsets(r)
	if err != nil {
		return res, err
	}
	began := time.Now()
	more, err := r.startMembers(2, "joiner", metrics...)
	if err != nil {
		return res, err
	}
	msMu.Lock()
	f.members = append(f.members, more...)
	msMu.Unlock()
	if err := env.Nodes.Node(victim, "kill"); err != nil {
		return res, err
	}
	rec, err := progressPast(r, ends, 2*time.Minute)
	if err != nil {
		return res, fmt.Errorf("after the joins and killing broker %d: %w", victim, err)
	}
	// The group settles with every member owning partitions.
	var settled time.Duration
	for _, m := range current() {
		if _, err := r.waitAssigned(m.Name()+"-consumer", 2*time.Minute); err != nil {
			return res, err
		}
		settled = time.Since(began)
	}
	env.Log("2 members joined and broker %d killed; committed past it after %.1fs; all 3 members own partitions after %.1fs", victim, rec.Seconds(), settled.Seconds())
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	if err := env.Nodes.Node(victim, "start"); err != nil {
		return res, err
	}
	if _, err := f.caughtUp(""); err != nil {
		return res, err
	}
	exited, err := f.end(&res, env.dur(time.Second, 5*time.Second))
	if err != nil {
		return res, err
	}
	back := rewinds.close()
	owners.close()
	owners.mu.Lock()
	overlaps, maxOwned, samples := owners.overlaps, owners.maxOwned, owners.samples
	owners.mu.Unlock()
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("2 members joined the 1 and broker %d (leader of %d of 6 input partitions) was SIGKILLed at once; recovery = every partition committed past that moment; all 3 members owned partitions %.1fs after; "+
		"ownership sampled %d times: partitions in two members' assignments at once: %d %v, most partitions owned by the members together (their veltrix_partitions_assigned): %.0f of 6; committed offsets going backwards: %d %v; "+
		"acknowledged %d; members exited on their own: %d; duplicates from: %s",
		victim, led, settled.Seconds(), samples, len(overlaps), overlaps, maxOwned, len(back), back, res.Acked, len(exited), memberEvents(f.members))
	res.Pass = clusterPass(res, exited) && len(overlaps) == 0 && len(back) == 0 && maxOwned <= 6
	return res, nil
}

// rf1LeaderKill is the counter-example: the input topic with a single
// replica on the three-node cluster. `config doctor` must call it an error
// and name the fix; then scenario 1 on it, with the one thing a replica
// guards against added: the killed broker's disk is lost (its partitions'
// directories deleted before it starts again). What the pipeline had not
// yet forwarded is gone, and the partitions are unavailable while the
// broker is down. The scenario passes when the doctor flagged the topic
// and the loss is measured; lost is expected to be above 0.
func rf1LeaderKill(env *Env) (Result, error) {
	res := Result{Scenario: "cluster-rf1-leader-kill", Cluster: env.Cluster}
	if env.Nodes == nil {
		return res, errSkip
	}
	if err := env.Nodes.Heal(); err != nil {
		return res, err
	}
	r, err := newRunRF1(env, "rf1")
	if err != nil {
		return res, err
	}
	defer r.close()
	r.trackAcks()
	if _, err := r.inSync(time.Minute, false); err != nil {
		return res, err
	}
	doc, err := r.doctor(env.Brokers)
	if err != nil {
		return res, err
	}
	flagged := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.Contains(line, r.in) && strings.Contains(line, "single replica") && strings.Contains(strings.ToLower(line), "error") {
			flagged = true
		}
	}
	env.Log("config doctor on the RF 1 input:\n%s", doc)
	start := time.Now()
	members, err := r.startMembers(2, "m")
	if err != nil {
		return res, err
	}
	// Produce errors are expected here (the broker that lost its data
	// lost the producer's sequence state too); they are counted, not
	// fatal.
	stopProducing := producingUntil(r, env.pick(1000, 3000))
	defer func() { _, _ = stopProducing() }()
	if err := flowing(r, 6, time.Minute); err != nil {
		return res, err
	}
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	victim, led, err := r.busiestLeader()
	if err != nil {
		return res, err
	}
	st, err := r.inSync(30*time.Second, false)
	if err != nil {
		return res, err
	}
	var parts []int32
	for _, p := range st.Partitions {
		if p.Topic == r.in && p.Leader == victim {
			parts = append(parts, p.Partition)
		}
	}
	committedAt, endsAt, err := r.committed()
	if err != nil {
		return res, err
	}
	var unprocessed, held int64
	for _, p := range parts {
		unprocessed += max(endsAt[p]-committedAt[p], 0)
		held += endsAt[p]
	}
	ackedAtKill := r.acked.len()
	if err := env.Nodes.Node(victim, "kill"); err != nil {
		return res, err
	}
	killed := time.Now()
	// The other partitions flow; the victim's have no other replica.
	others := map[int32]int64{}
	for p, e := range endsAt {
		if !containsPart(parts, p) {
			others[p] = e
		}
	}
	rec, err := progressPast(r, others, time.Minute)
	if err != nil {
		return res, fmt.Errorf("the partitions of the live brokers after killing broker %d: %w", victim, err)
	}
	down := env.dur(5*time.Second, 15*time.Second)
	time.Sleep(down)
	dir := filepath.Join(clusterRunDir(), fmt.Sprintf("node%d", victim), "data")
	for _, p := range parts {
		if err := os.RemoveAll(filepath.Join(dir, fmt.Sprintf("%s-%d", r.in, p))); err != nil {
			return res, err
		}
	}
	if err := env.Nodes.Node(victim, "start"); err != nil {
		return res, err
	}
	unavailable := time.Since(killed)
	env.Log("broker %d killed with %d of 6 input partitions %v, their data deleted, started again after %.1fs", victim, led, parts, unavailable.Seconds())
	time.Sleep(env.dur(5*time.Second, 15*time.Second))
	acked, prodErr := stopProducing()
	_ = acked
	exited := exitedOnTheirOwn(members)
	// A group whose committed offsets are past the emptied partitions'
	// ends reports no lag there: drained is as far as it gets.
	if err := finish(r, &res, start, 2*time.Minute); err != nil {
		return res, err
	}
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("input at replication factor 1 (output and dead letters at 3); config doctor flagged it as an error with the fix: %v; "+
		"SIGKILL broker %d holding input partitions %v (%d of the %d events acknowledged by then, %d not yet processed), their directories deleted, broker started again %.0fs later: "+
		"those partitions took no writes and served no reads meanwhile (recovery = the other partitions committed past the kill); the input lost %d acknowledged events (acknowledged %d, %d left in it); lost end to end (in neither input nor output): %d; produce error after the restart: %v; members exited on their own: %d",
		flagged, victim, parts, held, ackedAtKill, unprocessed, unavailable.Seconds(), res.Acked-res.Produced, res.Acked, res.Produced, res.Lost, prodErr, len(exited))
	for _, e := range exited {
		env.Log("%s", e)
	}
	// The counter-example holds when the doctor flagged it and the loss
	// was measured; lost 0 would mean the fault did not happen.
	res.Pass = flagged && res.Acked > 0
	return res, nil
}

func containsPart(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// clusterRunDir is where scripts/kafka.sh keeps the three nodes.
func clusterRunDir() string {
	if d := os.Getenv("KAFKA_CLUSTER_RUN_DIR"); d != "" {
		return d
	}
	return "/tmp/veltrix-kafka-cluster"
}
