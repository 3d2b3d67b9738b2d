package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/verify"
)

// errSkip means the scenario cannot run on this cluster.
var errSkip = errors.New("scenario not supported on this cluster")

// Scenario is one fault scenario.
type Scenario struct {
	Name string
	What string // one line for the report
	Run  func(env *Env) (Result, error)
	// Parallel scenarios spend their time waiting out timeouts rather than
	// measuring throughput, so at test scale they run alongside each other
	// (after the others); at full scale every scenario runs alone.
	Parallel bool
	// FullOnly scenarios run at full scale only, or when -faults.only
	// names them: CI's time budget leaves them out.
	FullOnly bool
}

// Scenarios are every scenario, in report order.
var Scenarios = []Scenario{
	{Name: "baseline", What: "events through forward with 2 members, no faults", Run: baseline},
	{Name: "sigkill", What: "SIGKILL a member mid-stream repeatedly while producing (3 members)", Run: sigkill},
	{Name: "rolling-restart", What: "SIGTERM and restart each of 3 members in turn while producing", Run: rollingRestart},
	{Name: "scale", What: "scale 1 → 3 → 1 members while producing", Run: scale},
	keyOrdered("baseline", "events through forward with 2 members, no faults", baseline, true),
	keyOrdered("sigkill", "SIGKILL a member mid-stream repeatedly while producing (3 members)", sigkill, false),
	keyOrdered("rolling-restart", "SIGTERM and restart each of 3 members in turn while producing", rollingRestart, true),
	keyOrdered("scale", "scale 1 → 3 → 1 members while producing", scale, false),
	{Name: "broker-outage", What: "stop the broker, restart it with its data, while producing (2 members)", Run: brokerOutage},
	{Name: "poison-dlq", What: "1% records that are not JSON, forward requires JSON, on_failure=dlq", Run: poison("dlq")},
	{Name: "poison-skip", What: "1% poison records, on_failure=skip", Run: poison("skip")},
	{Name: "poison-halt", What: "1% poison records, on_failure=halt", Run: poison("halt")},
	{Name: "overload", What: "handler 10× slower than the producer, 100-byte records, a buffer budget that binds before the record bound", Run: overload},
	{Name: "slow-drain-rebalance", What: "handlers slower than the drain timeout on every partition while a member joins, then SIGTERM to both members mid-batch", Run: slowDrainRebalance, Parallel: true},
	{Name: "hung-handler", What: "one handler call hangs ignoring its context: its partition waits, the others flow, SIGTERM still ends the process; restarted", Run: hungHandler, Parallel: true},
	{Name: "broker-wiped", What: "the broker restarted without its data (topics recreated with new IDs): members exit 1 with a clear message, are restarted, and consume the new topic", Run: brokerWiped, Parallel: true},
	{Name: "zombie", What: "a member frozen (SIGSTOP) past its session timeout, then resumed (SIGCONT) while producing (2 members)", Run: zombie, Parallel: true},
	{Name: "catch-up-forward", What: "the consumer down longer than producer.delivery_timeout (2s), then catching up through forward", Run: catchUpForward, Parallel: true},
}

func (e *Env) pick(small, full float64) float64 {
	if e.Full {
		return full
	}
	return small
}

func (e *Env) dur(small, full time.Duration) time.Duration {
	if e.Full {
		return full
	}
	return small
}

// finish drains the group, stops the members gracefully and verifies.
func finish(r *run, res *Result, start time.Time, drain time.Duration) error {
	if err := r.drained(drain); err != nil {
		return err
	}
	r.mu.Lock()
	ms := append([]*child.Process(nil), r.members...)
	r.mu.Unlock()
	for _, m := range ms {
		if _, err := m.Term(40 * time.Second); err != nil && !m.Exited() {
			return err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return r.verify(res)
}

// exactlyOnce waits for producing to end, drains, verifies, and passes the
// run only with nothing lost, duplicated or reordered: what graceful
// membership changes must achieve.
func exactlyOnce(r *run, res Result, start time.Time, wait func() (int64, error)) (Result, error) {
	if _, err := wait(); err != nil {
		return res, err
	}
	if err := finish(r, &res, start, 60*time.Second); err != nil {
		return res, err
	}
	// Key ordering too: a graceful revoke drains what the sub-lanes were
	// dispatched, so nothing is redone (keyed.go).
	res.Pass = res.Lost == 0 && res.Duplicated == 0 && res.OutOfOrder == 0
	return res, nil
}

func baseline(env *Env) (Result, error) {
	res := Result{Scenario: "baseline", Cluster: env.Cluster}
	r, err := newRun(env, "baseline")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	if _, err := r.startMembers(2, "m"); err != nil {
		return res, err
	}
	n := int64(env.pick(20000, 1_000_000))
	if _, _, err := r.produce(context.Background(), 0, n, 0); err != nil {
		return res, err
	}
	if err := finish(r, &res, start, env.dur(60*time.Second, 10*time.Minute)); err != nil {
		return res, err
	}
	res.Pass = res.Produced == n && res.Lost == 0 && res.Duplicated == 0 && res.OutOfOrder == 0
	return res, nil
}

// producing runs produce in the background for d at rate.
func producing(r *run, rate float64, d time.Duration) (wait func() (int64, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	type out struct {
		n   int64
		err error
	}
	ch := make(chan out, 1)
	go func() {
		n, _, err := r.produce(ctx, rate, 0, 0)
		ch <- out{n, err}
	}()
	return func() (int64, error) {
		o := <-ch
		cancel()
		return o.n, o.err
	}
}

// recovery waits until every partition's committed offset moved past its
// value now, and returns how long that took (at most limit).
func recovery(r *run, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	before, _, err := r.committed()
	if err != nil {
		return 0, err
	}
	for time.Since(start) < limit {
		now, ends, err := r.committed()
		if err == nil {
			moved := true
			for p := range ends {
				if now[p] <= before[p] && ends[p] > before[p] {
					moved = false
				}
			}
			if moved {
				return time.Since(start), nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return limit, fmt.Errorf("some partition made no progress within %s", limit)
}

func sigkill(env *Env) (Result, error) {
	res := Result{Scenario: "sigkill", Cluster: env.Cluster}
	r, err := newRun(env, "sigkill")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	members, err := r.startMembers(3, "m")
	if err != nil {
		return res, err
	}
	rate := env.pick(2000, 5000)
	kills := int(env.pick(2, 5))
	every := env.dur(5*time.Second, 12*time.Second)
	wait := producing(r, rate, every*time.Duration(kills+1))
	var worst time.Duration
	for k := range kills {
		time.Sleep(every - 2*time.Second)
		i := rand.IntN(len(members))
		members[i].Kill()
		rec, err := recovery(r, 30*time.Second)
		if err != nil {
			return res, fmt.Errorf("after kill %d: %w", k+1, err)
		}
		worst = max(worst, rec)
		if members[i], err = r.start(fmt.Sprintf("m%d-%d", i, k+1)); err != nil {
			return res, err
		}
	}
	if _, err := wait(); err != nil {
		return res, err
	}
	if err := finish(r, &res, start, 60*time.Second); err != nil {
		return res, err
	}
	res.RecoverySec = worst.Seconds()
	// A killed member's uncommitted work is redelivered: at most what it
	// had in flight plus one commit interval of its share of the rate.
	bound := int64(float64(kills) * rate * 2)
	res.Notes = fmt.Sprintf("%d kills; duplicates allowed ≤ %d (kills × rate × 2s); takeover bound 6s session + 5s", kills, bound)
	res.Pass = res.Lost == 0 && res.OutOfOrder == 0 && res.Duplicated <= bound && worst <= 11*time.Second
	return res, nil
}

func rollingRestart(env *Env) (Result, error) {
	res := Result{Scenario: "rolling-restart", Cluster: env.Cluster}
	r, err := newRun(env, "rolling")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	members, err := r.startMembers(3, "m")
	if err != nil {
		return res, err
	}
	gap := env.dur(3*time.Second, 10*time.Second)
	wait := producing(r, env.pick(2000, 5000), gap*4)
	for i := range members {
		time.Sleep(gap)
		if _, err := members[i].Term(40 * time.Second); err != nil {
			return res, err
		}
		if members[i], err = r.start(fmt.Sprintf("m%d-restarted", i)); err != nil {
			return res, err
		}
	}
	return exactlyOnce(r, res, start, wait)
}

func scale(env *Env) (Result, error) {
	res := Result{Scenario: "scale", Cluster: env.Cluster}
	r, err := newRun(env, "scale")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	if _, err := r.start("m0"); err != nil {
		return res, err
	}
	gap := env.dur(4*time.Second, 15*time.Second)
	wait := producing(r, env.pick(2000, 5000), gap*3)
	time.Sleep(gap)
	extra := make([]*child.Process, 2)
	for i := range extra {
		if extra[i], err = r.start(fmt.Sprintf("m%d", i+1)); err != nil {
			return res, err
		}
	}
	time.Sleep(gap)
	for _, m := range extra {
		if _, err := m.Term(40 * time.Second); err != nil {
			return res, err
		}
	}
	return exactlyOnce(r, res, start, wait)
}

func brokerOutage(env *Env) (Result, error) {
	res := Result{Scenario: "broker-outage", Cluster: env.Cluster}
	if env.RestartBroker == nil {
		res.Notes = "not run: this cluster cannot be restarted with its data"
		return res, errSkip
	}
	r, err := newRun(env, "outage")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	if _, err := r.startMembers(2, "m", "--kafka.connect_timeout", "2m"); err != nil {
		return res, err
	}
	down := env.dur(10*time.Second, 30*time.Second)
	before := env.dur(4*time.Second, 10*time.Second)
	wait := producing(r, env.pick(1000, 2000), before+down+before)
	time.Sleep(before)
	outage := time.Now()
	if err := env.RestartBroker(down); err != nil {
		return res, err
	}
	rec, err := recovery(r, 2*time.Minute)
	if err != nil {
		return res, err
	}
	res.RecoverySec = time.Since(outage).Seconds() - down.Seconds()
	_ = rec
	if _, err := wait(); err != nil {
		return res, err
	}
	if err := finish(r, &res, start, 2*time.Minute); err != nil {
		return res, err
	}
	res.Notes = fmt.Sprintf("broker down %s; recovery counted from its restart", down)
	res.Pass = res.Lost == 0 && res.OutOfOrder == 0
	return res, nil
}

func poison(policy string) func(env *Env) (Result, error) {
	return func(env *Env) (Result, error) {
		res := Result{Scenario: "poison-" + policy, Cluster: env.Cluster}
		r, err := newRun(env, "poison-"+policy)
		if err != nil {
			return res, err
		}
		defer r.close()
		start := time.Now()
		if _, err := r.startMembers(2, "m", "--handler.forward.require_json", "--processor.on_failure", policy,
			"--processor.retry.max_attempts", "2"); err != nil {
			return res, err
		}
		n := int64(env.pick(10000, 200000))
		_, poisoned, err := r.produce(context.Background(), 0, n, 100)
		if err != nil {
			return res, err
		}
		res.Poison = poisoned
		if policy == "halt" {
			return haltCheck(r, res, start)
		}
		if err := finish(r, &res, start, 60*time.Second); err != nil {
			return res, err
		}
		switch policy {
		case "dlq":
			res.Notes = "dead letters = poison exactly; every good record delivered"
			res.Pass = res.DeadLettered == poisoned && res.Lost == 0 && res.Delivered == n-poisoned
		case "skip":
			// Skipped records are dropped by design: exactly the poison.
			res.Notes = "the lost records are exactly the skipped poison, by design; every good record delivered"
			res.Pass = res.DeadLettered == 0 && res.Lost == poisoned && res.Delivered == n-poisoned
		}
		res.Pass = res.Pass && res.Duplicated == 0 && res.OutOfOrder == 0
		return res, nil
	}
}

// haltCheck waits for the group to stop at the first poison record of each
// partition and checks nothing past it was committed.
func haltCheck(r *run, res Result, start time.Time) (Result, error) {
	first := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := verify.ReadTopic(ctx, r.in, func(rec *kgo.Record) {
		if _, seen := first[rec.Partition]; !seen && !json.Valid(rec.Value) {
			first[rec.Partition] = rec.Offset
		}
	}, kgo.SeedBrokers(r.env.Brokers...))
	if err != nil {
		return res, err
	}
	// Wait until every partition has committed up to its poison record.
	deadline := time.Now().Add(60 * time.Second)
	var comm map[int32]int64
	for time.Now().Before(deadline) {
		comm, _, err = r.committed()
		settled := err == nil
		for p, off := range first {
			if comm[p] < off {
				settled = false
			}
		}
		if settled {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.mu.Lock()
	ms := append([]*child.Process(nil), r.members...)
	r.mu.Unlock()
	for _, m := range ms {
		if _, err := m.Term(40 * time.Second); err != nil {
			return res, err
		}
	}
	comm, _, err = r.committed()
	if err != nil {
		return res, err
	}
	res.Pass = true
	for p, off := range first {
		if comm[p] != off {
			res.Pass = false
			res.Notes += fmt.Sprintf("partition %d committed %d, first poison at %d; ", p, comm[p], off)
		}
	}
	if res.Pass {
		res.Notes = fmt.Sprintf("every partition with poison stopped exactly at its first poison record (%d partitions)", len(first))
	}
	res.Seconds = time.Since(start).Seconds()
	err = r.verify(&res)
	res.Lost = 0 // halted partitions keep their records in the input: not lost, just not yet processed
	return res, err
}

func overload(env *Env) (Result, error) {
	res := Result{Scenario: "overload", Cluster: env.Cluster}
	r, err := newRun(env, "overload")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	// The memory bound: the queues' budget, plus the one fetch response the
	// client may hold, plus a base for the Go runtime, clients and metrics.
	// The records are 100-byte values with a key and two headers, where a
	// queued record's own overhead (~176 B, 40 B per header) is most of its
	// cost; the per-partition record bound is set out of the way so that
	// the byte budget is what stops fetching (at test scale a smaller
	// budget, so that the shorter backlog still fills it).
	const fetchMiB, baseMiB = 8, 40
	budgetMiB := int(env.pick(2, 8))
	slow := []string{"--handler", "simulate", "--handler.simulate.record_delay", "30ms",
		"--processor.buffer.max_bytes", fmt.Sprintf("%dMiB", budgetMiB), "--processor.buffer.max_records", "1000000",
		"--processor.fetch.max_bytes", fmt.Sprintf("%dMiB", fetchMiB), "--processor.batch.max_records", "50",
		"--metrics-addr", "127.0.0.1:0"}
	members, err := r.startMembers(2, "slow", slow...)
	if err != nil {
		return res, err
	}
	// The members' own count of what they hold, sampled while they run:
	// it shows the budget is what binds.
	peakBuffered := make([]float64, len(members))
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		urls := make([]string, len(members))
		for i, m := range members {
			urls[i], _ = metricsURL(m, 30*time.Second)
		}
		for {
			for i, u := range urls {
				if v, ok, err := scrape(u, "veltrix_buffered_bytes"); err == nil && ok {
					peakBuffered[i] = max(peakBuffered[i], v)
				}
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	// 6 lanes × 1 record / 30ms ≈ 200/s of capacity against 2000/s.
	d := env.dur(10*time.Second, 60*time.Second)
	pctx, cancel := context.WithTimeout(context.Background(), d)
	n, _, err := r.produce(pctx, 2000, 0, 0)
	cancel()
	close(stopSampling)
	<-sampled
	if err != nil {
		return res, err
	}
	lagAtStop, _ := r.lag()
	// Recover: replace the slow members with fast ones and drain. Peak RSS
	// is the slow members', under overload; the fast ones drain the backlog
	// with default settings.
	for _, m := range members {
		if _, err := m.Term(40 * time.Second); err != nil {
			return res, err
		}
	}
	res.PeakRSSMiB = r.peakRSSMiB()
	if _, err := r.startMembers(2, "fast", "--handler", "simulate"); err != nil {
		return res, err
	}
	if err := r.drained(2 * time.Minute); err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.Produced, res.Delivered = n, n // drained: every record's offset was committed after handling
	r.mu.Lock()
	res.MaxLag = r.maxLag
	r.mu.Unlock()
	bound := float64(budgetMiB + fetchMiB + baseMiB)
	buffered := max(peakBuffered[0], peakBuffered[1]) / (1 << 20)
	res.Notes = fmt.Sprintf("lag at producer stop %d; peak RSS bound %.0f MiB = %d MiB buffer budget + %d MiB fetch.max_bytes + %d MiB base; "+
		"100-byte records, peak buffered %.1f MiB as counted; drained after",
		lagAtStop, bound, budgetMiB, fetchMiB, baseMiB, buffered)
	// The budget must have bound (the buffer reached at least half of it),
	// or the run says nothing about it.
	res.Pass = lagAtStop > n/2 && res.PeakRSSMiB <= bound && buffered >= float64(budgetMiB)/2
	return res, nil
}

// producingUntil runs produce in the background at rate until stop is
// called, which returns the acknowledged count.
func producingUntil(r *run, rate float64) (stop func() (int64, error)) {
	ctx, cancel := context.WithCancel(context.Background())
	type out struct {
		n   int64
		err error
	}
	ch := make(chan out, 1)
	go func() {
		n, _, err := r.produce(ctx, rate, 0, 0)
		ch <- out{n, err}
	}()
	var once sync.Once
	var o out
	return func() (int64, error) {
		once.Do(func() {
			cancel()
			o = <-ch
		})
		return o.n, o.err
	}
}

// afterBatch returns once m's handler finished a call, read from its
// /metrics, or an error when none finished within limit.
func afterBatch(m *child.Process, limit time.Duration) error {
	url, err := metricsURL(m, limit)
	if err != nil {
		return err
	}
	calls := func() float64 {
		v, _, _ := scrape(url, "veltrix_handler_duration_seconds_count")
		return v
	}
	first := calls()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if calls() != first {
			return nil
		}
	}
	return fmt.Errorf("%s: no handler call finished within %s", m.Name(), limit)
}

// assignedTo returns once m owns at least one partition, read from its
// /metrics, or an error when it owns none within limit.
func assignedTo(m *child.Process, limit time.Duration) error {
	url, err := metricsURL(m, limit)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if v, _, _ := scrape(url, "veltrix_partitions_assigned"); v > 0 {
			return nil
		}
	}
	return fmt.Errorf("%s: owned no partition within %s", m.Name(), limit)
}

// busyPartitions returns the partitions="…" value of the first log line
// of s that contains every one of subs, or "".
func busyPartitions(s string, subs ...string) string {
	for _, line := range strings.Split(s, "\n") {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(line, sub)
		}
		if !all {
			continue
		}
		const key = `partitions="`
		if i := strings.Index(line, key); i >= 0 {
			v := line[i+len(key):]
			if j := strings.IndexByte(v, '"'); j >= 0 {
				return v[:j]
			}
		}
		return "?"
	}
	return ""
}

// shutdownSlack is what a SIGTERM may take beyond processor.shutdown_timeout:
// the final commit, leaving the group and closing the clients.
const shutdownSlack = 5 * time.Second

// termAll sends SIGTERM to every member, each once before(m) returns, and
// returns the longest time one took to exit.
func termAll(ms []*child.Process, timeout time.Duration, before func(*child.Process) error) (time.Duration, error) {
	type out struct {
		d   time.Duration
		err error
	}
	ch := make(chan out, len(ms))
	for _, m := range ms {
		go func() {
			if err := before(m); err != nil {
				ch <- out{0, err}
				return
			}
			d, err := m.Term(timeout)
			ch <- out{d, err}
		}()
	}
	var worst time.Duration
	var firstErr error
	for range ms {
		o := <-ch
		worst = max(worst, o.d)
		if o.err != nil && firstErr == nil {
			firstErr = o.err
		}
	}
	return worst, firstErr
}

// slowDrainRebalance: every batch takes longer than the drain timeout. A
// member joining revokes partitions from one busy on all of them, and then
// both are stopped mid-batch: the revoke and the shutdown must each end at
// one deadline for all busy lanes, and the abandoned batches are
// redelivered, never lost.
func slowDrainRebalance(env *Env) (Result, error) {
	res := Result{Scenario: "slow-drain-rebalance", Cluster: env.Cluster}
	r, err := newRun(env, "slowdrain")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	// A batch lasts far longer than the drain timeout: the revoke reaches
	// m0 one heartbeat (up to 3s) plus m1's start after the join, and it
	// must still find every batch busy, however slow the machine.
	const drain, shutdown, batch = time.Second, 2 * time.Second, 10 * time.Second
	slow := []string{"--handler", "simulate", "--handler.simulate.forward", "--handler.simulate.batch_delay", batch.String(),
		"--processor.rebalance.drain_timeout", drain.String(), "--processor.shutdown_timeout", shutdown.String(),
		"--handler.timeout", "20s", "--metrics-addr", "127.0.0.1:0"}
	m0, err := r.start("m0", slow...)
	if err != nil {
		return res, err
	}
	stopProducing := producingUntil(r, env.pick(300, 1000))
	// m0 owns every partition and is mid-batch on each; its lanes started
	// together and stay in step, so m1 joins just after a batch ended and
	// the revoke finds the next batches far from done.
	const busy = "still busy at the drain timeout"
	// The revoke must reach m0 within a batch of the join for the drain to
	// find busy lanes; on a loaded machine the join can take longer. Then
	// the join is tried again (m1 leaves, m0 takes everything back, a new
	// member joins): a revoke that found nothing busy tests nothing.
	var m1 *child.Process
	var join time.Time
	joins := 0
	for joins < 3 {
		joins++
		if err := afterBatch(m0, 3*batch); err != nil {
			return res, err
		}
		join = time.Now()
		if m1, err = r.start(fmt.Sprintf("m1-%d", joins), slow...); err != nil {
			return res, err
		}
		// m0's revoke logs before m1 is given the partitions.
		if err := assignedTo(m1, 60*time.Second); err != nil {
			return res, fmt.Errorf("after the join: %w", err)
		}
		if busyPartitions(m0.Stderr(), busy, "timeout="+drain.String()) != "" {
			break
		}
		if _, err := m1.Term(shutdown + shutdownSlack); err != nil {
			return res, err
		}
	}
	// From the join until every partition moved again, counted from once
	// m1 owns partitions so that m0's commit of the batch that just ended
	// does not pass for progress: the revoke waits at most the drain
	// timeout, then the new owner's first batch.
	if _, err := recovery(r, 60*time.Second); err != nil {
		return res, fmt.Errorf("after the join: %w", err)
	}
	rec := time.Since(join)
	time.Sleep(env.dur(time.Second, 15*time.Second))
	// Both members busy on three partitions each. Lanes that started
	// together stay in step, so each member gets its SIGTERM just after a
	// batch ended: the batches that follow outlast the shutdown timeout.
	worst, err := termAll([]*child.Process{m0, m1}, 60*time.Second, func(m *child.Process) error { return afterBatch(m, 3*batch) })
	if err != nil {
		return res, err
	}
	revoked := busyPartitions(m0.Stderr(), busy, "timeout="+drain.String())
	revokeHit := revoked != ""
	shutdownHit := 0
	var atShutdown []string
	for _, m := range []*child.Process{m0, m1} {
		if b := busyPartitions(m.Stderr(), busy, "timeout="+shutdown.String()); b != "" {
			shutdownHit++
			atShutdown = append(atShutdown, b)
		}
	}
	// The rest is drained by members without the delay.
	if _, err := r.startMembers(2, "fast"); err != nil {
		return res, err
	}
	time.Sleep(env.dur(time.Second, 5*time.Second))
	if _, err := stopProducing(); err != nil {
		return res, err
	}
	if err := finish(r, &res, start, 2*time.Minute); err != nil {
		return res, err
	}
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("batches take %s against drain_timeout %s and shutdown_timeout %s; the join's revoke abandoned busy partitions %s at one deadline (joins tried: %d); "+
		"at SIGTERM both members abandoned busy partitions (%s) at one deadline; slowest SIGTERM exit %.1fs (bound %s + %s); recovery from m1's start to every partition committing again",
		batch, drain, shutdown, revoked, joins, strings.Join(atShutdown, " and "), worst.Seconds(), shutdown, shutdownSlack)
	res.Pass = res.Lost == 0 && res.OutOfOrder == 0 && worst <= shutdown+shutdownSlack && revokeHit && shutdownHit == 2
	return res, nil
}

// hungHandler: one handler call hangs for good, ignoring its context. Its
// partition waits (reported as an overdue call), the other partitions keep
// flowing, SIGTERM still ends the process at the shutdown deadline, and a
// restarted member processes the stuck partition.
func hungHandler(env *Env) (Result, error) {
	res := Result{Scenario: "hung-handler", Cluster: env.Cluster}
	r, err := newRun(env, "hung")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	const shutdown = 2 * time.Second
	m, err := r.start("hung", "--handler", "simulate", "--handler.simulate.forward", "--handler.simulate.hang_call", "25",
		"--handler.timeout", "1s", "--processor.shutdown_timeout", shutdown.String(), "--metrics-addr", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	url, err := metricsURL(m, 30*time.Second)
	if err != nil {
		return res, err
	}
	stopProducing := producingUntil(r, env.pick(300, 1000))
	defer func() { _, _ = stopProducing() }()
	overdue := func() float64 {
		v, _, _ := scrape(url, "veltrix_overdue_handler_calls")
		return v
	}
	deadline := time.Now().Add(60 * time.Second)
	for overdue() != 1 {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("veltrix_overdue_handler_calls never reached 1:\n%s", tail(m.Stderr()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The hung partition stays put; every other one moves. Watched for at
	// least a window, and then until all but one partition have committed
	// past where they stood (at most 60 s): on a loaded machine one window
	// may see no commit of a partition that is flowing.
	before, _, err := r.committed()
	if err != nil {
		return res, err
	}
	window := time.Now().Add(env.dur(4*time.Second, 15*time.Second))
	deadline = time.Now().Add(60 * time.Second)
	movedSet := map[int32]bool{}
	var after, ends map[int32]int64
	for {
		if after, ends, err = r.committed(); err != nil {
			return res, err
		}
		for p := range ends {
			if after[p] > before[p] {
				movedSet[p] = true
			}
		}
		if now := time.Now(); now.After(deadline) || now.After(window) && len(movedSet) >= len(ends)-1 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	var stuck, moved []int32
	for p, end := range ends {
		switch {
		case movedSet[p]:
			moved = append(moved, p)
		case end > after[p]:
			stuck = append(stuck, p)
		}
	}
	slices.Sort(stuck)
	stillOverdue := overdue()
	took, err := m.Term(60 * time.Second)
	if err != nil {
		return res, err
	}
	// Restarted without the hang, the stuck partition is processed.
	if _, err := r.start("restarted"); err != nil {
		return res, err
	}
	rec, err := recovery(r, 60*time.Second)
	if err != nil {
		return res, fmt.Errorf("after the restart: %w", err)
	}
	time.Sleep(env.dur(time.Second, 5*time.Second))
	if _, err := stopProducing(); err != nil {
		return res, err
	}
	if err := finish(r, &res, start, 2*time.Minute); err != nil {
		return res, err
	}
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("overdue_handler_calls %.0f while hung; partitions stuck %v, flowing %d of %d; SIGTERM exit %.1fs (bound %s + %s); recovery from the restart",
		stillOverdue, stuck, len(moved), len(ends), took.Seconds(), shutdown, shutdownSlack)
	res.Pass = res.Lost == 0 && res.OutOfOrder == 0 && stillOverdue == 1 && len(stuck) == 1 && len(moved) == len(ends)-1 &&
		took <= shutdown+shutdownSlack
	return res, nil
}

// brokerWiped: the broker comes back without its data, and the topics are
// created again (by an operator, or infrastructure code) under new IDs. A
// client never adopts a recreated topic's ID, so the members cannot read the
// new input: each must exit 1 within the unreadable-topic bound with a
// message saying so, without spinning, and members restarted (as a
// supervisor does) consume the new topic from its start. Lost is counted
// against the new broker: the records of the old one went with its data (the
// scenario lets the group finish them before the wipe).
func brokerWiped(env *Env) (Result, error) {
	res := Result{Scenario: "broker-wiped", Cluster: env.Cluster}
	if env.WipeBroker == nil {
		res.Notes = "not run: this cluster cannot be restarted without its data"
		return res, errSkip
	}
	r, err := newRun(env, "wiped")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	// processor.group.rebalance_timeout bounds how long the topic may stay
	// unreadable before a member gives up.
	bound := env.dur(3*time.Second, 20*time.Second)
	flags := []string{"--processor.group.rebalance_timeout", bound.String(), "--kafka.connect_timeout", "2m"}
	old, err := r.startMembers(2, "m", flags...)
	if err != nil {
		return res, err
	}
	before := int64(env.pick(2000, 50000))
	if _, _, err := r.produce(context.Background(), 0, before, 0); err != nil {
		return res, err
	}
	if err := r.drained(time.Minute); err != nil {
		return res, err
	}
	logBefore := make([]int, len(old))
	cpuBefore := make([]float64, len(old))
	for i, m := range old {
		logBefore[i] = strings.Count(m.Stderr(), "\n")
		cpu, _ := m.CPU()
		cpuBefore[i] = cpu.Seconds()
	}
	wiped := time.Now()
	if err := env.WipeBroker(); err != nil {
		return res, err
	}
	back := time.Now()
	if err := r.createTopics(); err != nil {
		return res, fmt.Errorf("re-creating the topics: %w", err)
	}
	if err := r.reconnect(); err != nil {
		return res, err
	}
	stopProducing := producingUntil(r, env.pick(500, 2000))
	defer func() { _, _ = stopProducing() }()

	// Each old member must exit 1 with the message, without spinning.
	var lastExit time.Time
	var maxLines int
	var maxCPU float64
	named := true
	for i, m := range old {
		ctx, cancel := context.WithTimeout(context.Background(), bound+2*time.Minute)
		err := m.Wait(ctx)
		cancel()
		if err != nil {
			return res, err
		}
		code, at := m.ExitCode(), m.ExitedAt()
		env.Log("%s exited %d:\n%s", m.Name(), code, tail(m.Stderr()))
		if code != 1 || !strings.Contains(m.Stderr(), "the input topic was deleted or recreated") {
			named = false
		}
		cpu, err := m.CPU()
		if err != nil {
			return res, err
		}
		if at.After(lastExit) {
			lastExit = at
		}
		maxLines = max(maxLines, strings.Count(m.Stderr(), "\n")-logBefore[i])
		maxCPU = max(maxCPU, cpu.Seconds()-cpuBefore[i])
	}
	// The supervisor restarts them.
	if _, err := r.startMembers(2, "m-restarted", flags...); err != nil {
		return res, err
	}
	rec, err := recovery(r, 2*time.Minute)
	if err != nil {
		return res, fmt.Errorf("after the restart: %w", err)
	}
	time.Sleep(env.dur(2*time.Second, 10*time.Second))
	if _, err := stopProducing(); err != nil {
		return res, err
	}
	if err := finish(r, &res, start, 2*time.Minute); err != nil {
		return res, err
	}
	exitAfter := lastExit.Sub(back)
	res.RecoverySec = time.Since(back).Seconds() - time.Since(lastExit).Seconds() + rec.Seconds()
	res.Notes = fmt.Sprintf("broker back empty after %.1fs, topics recreated; both members exited 1 naming the recreated topic: %v, the last %.1fs after the broker came back "+
		"(rebalance_timeout %s); while unreadable at most %d log lines and %.2f CPU s per member; counted on the new broker (the %d records acknowledged before the wipe were processed, then lost with its data); recovery from the broker's return to the restarted members' progress",
		back.Sub(wiped).Seconds(), named, exitAfter.Seconds(), bound, maxLines, maxCPU, before)
	res.Pass = res.Lost == 0 && res.OutOfOrder == 0 && named && exitAfter <= bound+time.Minute && maxLines <= 100
	return res, nil
}

// zombie: a member frozen past its session timeout loses its partitions;
// when it resumes it must not commit for them (the coordinator rejects its
// stale generation, and it must notice, log the loss and rejoin). Every
// committed offset is watched for going backwards: a zombie commit would
// rewind the new owner.
func zombie(env *Env) (Result, error) {
	res := Result{Scenario: "zombie", Cluster: env.Cluster}
	r, err := newRun(env, "zombie")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	// Batches in flight at the freeze, so the zombie has work to finish and
	// commit when it resumes.
	slow := []string{"--handler", "simulate", "--handler.simulate.forward", "--handler.simulate.batch_delay", "200ms"}
	z, err := r.start("zombie", slow...)
	if err != nil {
		return res, err
	}
	if _, err := r.start("m1", slow...); err != nil {
		return res, err
	}
	stopProducing := producingUntil(r, env.pick(500, 2000))
	defer func() { _, _ = stopProducing() }()

	var rewinds []string
	watched := make(chan struct{})
	stopWatch := make(chan struct{})
	go func() {
		defer close(watched)
		high := map[int32]int64{}
		for {
			if c, _, err := r.committed(); err == nil {
				for p, off := range c {
					if off < high[p] {
						rewinds = append(rewinds, fmt.Sprintf("p%d %d→%d", p, high[p], off))
					}
					high[p] = max(high[p], off)
				}
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	stopWatching := sync.OnceFunc(func() {
		close(stopWatch)
		<-watched
	})
	defer stopWatching()

	time.Sleep(env.dur(3*time.Second, 15*time.Second))
	const session = 6 * time.Second
	frozen := session + 4*time.Second
	if err := z.Signal(syscall.SIGSTOP); err != nil {
		return res, err
	}
	stopped := time.Now()
	rec, err := recovery(r, frozen+20*time.Second)
	if err != nil {
		_ = z.Signal(syscall.SIGCONT)
		return res, fmt.Errorf("while the zombie was frozen: %w", err)
	}
	time.Sleep(time.Until(stopped.Add(frozen)))
	logAtResume := len(z.Stderr())
	if err := z.Signal(syscall.SIGCONT); err != nil {
		return res, err
	}
	resumed := time.Now()
	// Depending on what answers the resumed zombie first (a heartbeat's
	// UNKNOWN_MEMBER_ID or REBALANCE_IN_PROGRESS, a JoinGroup's
	// UNKNOWN_MEMBER_ID), franz-go reports its old partitions as lost, or
	// revokes them after the rejoin, or hands them back to the new member:
	// each path must say it dropped them uncommitted.
	lostLogged := waitLog(z, droppedOld, 30*time.Second) == nil
	rejoined, rejoinErr := r.waitAssigned(z.Name()+"-consumer", 60*time.Second)
	if rejoinErr != nil {
		env.Log("%v", rejoinErr)
	}
	time.Sleep(env.dur(time.Second, 10*time.Second))
	if _, err := stopProducing(); err != nil {
		return res, err
	}
	if err := finish(r, &res, start, 2*time.Minute); err != nil {
		return res, err
	}
	stopWatching()
	afterResume := z.Stderr()[logAtResume:]
	env.Log("zombie after resuming:\n%s", tail(afterResume))
	rejected := strings.Count(afterResume, "commit failed")
	why := ""
	for _, code := range []string{"ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "REBALANCE_IN_PROGRESS"} {
		if strings.Contains(afterResume, code) {
			why += " " + code
		}
	}
	res.RecoverySec = rec.Seconds()
	res.Notes = fmt.Sprintf("frozen %s against session %s; committed offsets going backwards: %d %v; zombie commits rejected after resuming: %d (%s); "+
		"zombie logged its lost partitions: %v; rejoined with partitions %.1fs after resuming: %v; recovery from the freeze",
		frozen, session, len(rewinds), rewinds, rejected, strings.TrimSpace(why), lostLogged, rejoined.Sub(resumed).Seconds(), rejoinErr == nil)
	res.Pass = res.Lost == 0 && res.OutOfOrder == 0 && len(rewinds) == 0 && lostLogged && rejoinErr == nil &&
		rec <= session+5*time.Second
	return res, nil
}

// waitAssigned waits until the group member with this client id owns at
// least one partition, and returns when it was seen.
func (r *run) waitAssigned(clientID string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, adm := r.clients()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		groups, err := adm.DescribeGroups(ctx, r.group)
		cancel()
		if err == nil {
			for _, m := range groups[r.group].Members {
				if m.ClientID != clientID {
					continue
				}
				if ca, ok := m.Assigned.AsConsumer(); ok && len(ca.Topics) > 0 && len(ca.Topics[0].Partitions) > 0 {
					return time.Now(), nil
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Now(), fmt.Errorf("%s owns no partition of group %s after %s", clientID, r.group, timeout)
}

// catchUpForward: the consumer is down longer than the forward producer's
// delivery timeout; the backlog's records are all older than it when the
// consumer comes back, and forward must still write every one. The first
// member runs with the default delivery timeout (the live phase only
// establishes committed offsets); the one that catches up with 2s.
func catchUpForward(env *Env) (Result, error) {
	res := Result{Scenario: "catch-up-forward", Cluster: env.Cluster}
	r, err := newRun(env, "catchup")
	if err != nil {
		return res, err
	}
	defer r.close()
	start := time.Now()
	const delivery = 2 * time.Second
	m, err := r.start("m0")
	if err != nil {
		return res, err
	}
	live := int64(env.pick(2000, 20000))
	if _, _, err := r.produce(context.Background(), 0, live, 0); err != nil {
		return res, err
	}
	if err := drainedOrHalted(r, m, time.Minute); err != nil {
		return res, err
	}
	if _, err := m.Term(40 * time.Second); err != nil {
		return res, err
	}
	// Down: the backlog accumulates, then ages past the delivery timeout.
	down := env.dur(5*time.Second, 30*time.Second)
	pctx, cancel := context.WithTimeout(context.Background(), down)
	backlog, _, err := r.produce(pctx, env.pick(1000, 5000), 0, 0)
	cancel()
	if err != nil {
		return res, err
	}
	time.Sleep(delivery + time.Second)
	back := time.Now()
	m, err = r.start("m0-back", "--producer.delivery_timeout", delivery.String())
	if err != nil {
		return res, err
	}
	drainErr := drainedOrHalted(r, m, env.dur(time.Minute, 3*time.Minute))
	caughtUp := time.Since(back)
	if drainErr != nil {
		// Report what was lost rather than only the error.
		_, _ = m.Term(40 * time.Second)
		if err := r.verify(&res); err != nil {
			return res, err
		}
		res.Seconds = time.Since(start).Seconds()
		first := ""
		if i := strings.Index(m.Stderr(), "level=ERROR"); i >= 0 {
			first = m.Stderr()[i:]
			if j := strings.IndexByte(first, '\n'); j >= 0 {
				first = first[:j]
			}
		}
		res.Notes = fmt.Sprintf("did not catch up: %v; first error: %s", drainErr, first)
		return res, nil
	}
	if err := finish(r, &res, start, time.Minute); err != nil {
		return res, err
	}
	res.RecoverySec = caughtUp.Seconds()
	res.Notes = fmt.Sprintf("down %s + %s, delivery_timeout %s: the %d backlog records were all older than it; recovery = catch-up time",
		down, delivery+time.Second, delivery, backlog)
	res.Pass = res.Lost == 0 && res.Duplicated == 0 && res.OutOfOrder == 0
	return res, nil
}

// drainedOrHalted waits until the group has committed everything, at most
// timeout, and fails at once when m halted a partition (waiting longer
// would only delay the report) or exited.
func drainedOrHalted(r *run, m *child.Process, timeout time.Duration) error {
	start := time.Now()
	for {
		lag, err := r.lag()
		if err == nil && lag == 0 {
			return nil
		}
		if strings.Contains(m.Stderr(), "partition halted") || m.Exited() || time.Since(start) > timeout {
			return fmt.Errorf("group %s has lag %d (err %v) %s after %s started", r.group, lag, err, time.Since(start).Round(time.Second), m.Name())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
