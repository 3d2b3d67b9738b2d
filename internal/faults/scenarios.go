package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/verify"
)

// errSkip means the scenario cannot run on this cluster.
var errSkip = errors.New("scenario not supported on this cluster")

// Scenario is one fault scenario.
type Scenario struct {
	Name string
	What string // one line for the report
	Run  func(env *Env) (Result, error)
}

// Scenarios are every scenario, in report order.
var Scenarios = []Scenario{
	{"baseline", "events through forward with 2 members, no faults", baseline},
	{"sigkill", "SIGKILL a member mid-stream repeatedly while producing (3 members)", sigkill},
	{"rolling-restart", "SIGTERM and restart each of 3 members in turn while producing", rollingRestart},
	{"scale", "scale 1 → 3 → 1 members while producing", scale},
	{"broker-outage", "stop the broker, restart it with its data, while producing (2 members)", brokerOutage},
	{"poison-dlq", "1% records that are not JSON, forward requires JSON, on_failure=dlq", poison("dlq")},
	{"poison-skip", "1% poison records, on_failure=skip", poison("skip")},
	{"poison-halt", "1% poison records, on_failure=halt", poison("halt")},
	{"overload", "handler 10× slower than the producer, small buffer budget", overload},
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
	ms := append([]*member(nil), r.members...)
	r.mu.Unlock()
	for _, m := range ms {
		if err := m.term(40 * time.Second); err != nil && !isExited(m) {
			return err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return r.verify(res)
}

// isExited reports whether m's process has exited.
func isExited(m *member) bool {
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
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
		members[i].kill()
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
		if err := members[i].term(40 * time.Second); err != nil {
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
	extra := make([]*member, 2)
	for i := range extra {
		if extra[i], err = r.start(fmt.Sprintf("m%d", i+1)); err != nil {
			return res, err
		}
	}
	time.Sleep(gap)
	for _, m := range extra {
		if err := m.term(40 * time.Second); err != nil {
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
	ms := append([]*member(nil), r.members...)
	r.mu.Unlock()
	for _, m := range ms {
		if err := m.term(40 * time.Second); err != nil {
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
	const budgetMiB, fetchMiB, baseMiB = 8, 8, 40
	slow := []string{"--handler", "simulate", "--handler.simulate.record_delay", "30ms",
		"--processor.buffer.max_bytes", fmt.Sprintf("%dMiB", budgetMiB), "--processor.buffer.max_records", "2000",
		"--processor.fetch.max_bytes", fmt.Sprintf("%dMiB", fetchMiB), "--processor.batch.max_records", "50"}
	members, err := r.startMembers(2, "slow", slow...)
	if err != nil {
		return res, err
	}
	// 6 lanes × 1 record / 30ms ≈ 200/s of capacity against 2000/s.
	d := env.dur(10*time.Second, 60*time.Second)
	pctx, cancel := context.WithTimeout(context.Background(), d)
	n, _, err := r.produce(pctx, 2000, 0, 0)
	cancel()
	if err != nil {
		return res, err
	}
	lagAtStop, _ := r.lag()
	// Recover: replace the slow members with fast ones and drain. Peak RSS
	// is the slow members', under overload; the fast ones drain the backlog
	// with default settings.
	for _, m := range members {
		if err := m.term(40 * time.Second); err != nil {
			return res, err
		}
	}
	r.mu.Lock()
	res.PeakRSSMiB = float64(r.peakRSS) / 1024
	r.mu.Unlock()
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
	res.Notes = fmt.Sprintf("lag at producer stop %d; peak RSS bound %.0f MiB = %d MiB buffer budget + %d MiB fetch.max_bytes + %d MiB base; drained after",
		lagAtStop, bound, budgetMiB, fetchMiB, baseMiB)
	res.Pass = lagAtStop > n/2 && res.PeakRSSMiB <= bound
	return res, nil
}
