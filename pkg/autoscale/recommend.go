package autoscale

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/veltrix/veltrix/pkg/lag"
)

// Recommendation is the replica count for one group and why.
type Recommendation struct {
	Group string    `json:"group"`
	At    time.Time `json:"at"` // the poll it is computed from
	// Replicas is the recommended member count.
	Replicas int `json:"replicas"`
	// Held says Replicas is the previous recommendation, kept because the
	// data cannot support a new one (see Reasons).
	Held bool `json:"held"`
	// Members is the group's live member count at the poll.
	Members int `json:"members"`
	// Wanted is the count the data calls for, before the scale-down delay.
	Wanted int `json:"wanted"`
	// ForInput keeps up with the input at the target utilization; ForDrain
	// also drains the lag within the target drain time.
	ForInput int `json:"for_input"`
	ForDrain int `json:"for_drain"`
	// Partitions the group consumes, and those with lag (not stalled).
	Partitions        int `json:"partitions"`
	PartitionsWithLag int `json:"partitions_with_lag"`
	// Useful are the counts that lower the most partitions per member.
	Useful []int `json:"useful"`
	// Lag is the offset lag the recommendation drains; StalledLag the lag
	// of stuck partitions, left out.
	Lag        int64    `json:"lag"`
	StalledLag int64    `json:"stalled_lag"`
	Stalled    []string `json:"stalled,omitempty"` // topic/partition
	// InputRate and ConsumeRate are records/s over the recent polls;
	// Capacity is a member's measured records/s, 0 while unknown.
	InputRate   float64 `json:"input_rate"`
	ConsumeRate float64 `json:"consume_rate"`
	Capacity    float64 `json:"capacity_per_member"`
	// PartitionCapacity is the measured records/s per partition once more
	// members did not raise the group's rate (a latency-bound handler); 0
	// while members are the bound (capacity.go).
	PartitionCapacity float64 `json:"capacity_per_partition,omitempty"`
	// Reasons say, in order, how Replicas came about.
	Reasons []string `json:"reasons"`
}

// saturatedTimeLag is the time lag above which a group counts as working
// at capacity: well above what commit intervals and poll timing leave
// behind in a group that keeps up, so a keeping-up group's rate is never
// taken for its capacity.
const saturatedTimeLag = 5 * time.Second

// samples is how many polls the rates are measured over.
const samples = 6

// Recommender turns lag polls into recommendations. Observe and Recommend
// are safe for concurrent use.
type Recommender struct {
	cfg   Config
	stale time.Duration

	mu     sync.Mutex
	last   time.Time // the newest poll observed
	groups map[string]*state
}

// state is what the recommender remembers of one group.
type state struct {
	polls    []poll
	capacity float64   // records/s per member; 0 unknown
	measured bool      // capacity was measured behind, not only a lower bound
	below    time.Time // since when a lower count has been wanted; zero: not
	belowMax int       // the highest count wanted since below
	down     int       // a scale-down decided, until the members follow; 0 none
	// totals is the group's records/s while behind, by member count, over
	// windows without a membership change (capacity.go).
	totals map[int]float64
	rec    Recommendation
	have   bool // rec holds a recommendation
}

type poll struct {
	at time.Time
	g  lag.Group
}

// New returns a recommender for polls made every interval (lag.interval):
// a recommendation older than three intervals is stale and held.
func New(cfg Config, interval time.Duration) (*Recommender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Recommender{cfg: cfg, stale: 3 * interval, groups: map[string]*state{}}, nil
}

// Observe computes a recommendation for every group of s. A snapshot not
// newer than the last one observed is ignored, so a collector may pass the
// monitor's latest snapshot at every scrape. Groups absent from s are
// forgotten.
func (r *Recommender) Observe(s *lag.Snapshot) {
	if s == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.At.After(r.last) {
		return
	}
	r.last = s.At
	seen := map[string]bool{}
	for _, g := range s.Groups {
		seen[g.Name] = true
		st := r.groups[g.Name]
		if st == nil {
			st = &state{}
			r.groups[g.Name] = st
		}
		st.polls = append(st.polls, poll{at: s.At, g: g})
		if len(st.polls) > samples {
			st.polls = st.polls[len(st.polls)-samples:]
		}
		st.rec, st.have = r.compute(st, g, s.At), true
	}
	for name := range r.groups {
		if !seen[name] {
			delete(r.groups, name)
		}
	}
}

// Recommend returns the latest recommendation for group, held when its
// poll is older than three lag intervals at now; false when the group has
// not been observed.
func (r *Recommender) Recommend(group string, now time.Time) (Recommendation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.groups[group]
	if st == nil || !st.have {
		return Recommendation{}, false
	}
	rec := st.rec
	rec.Reasons = append([]string(nil), rec.Reasons...)
	if age := now.Sub(rec.At); age > r.stale {
		rec.Held = true
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("the latest poll is %s old, more than three lag intervals (%s): holding %d until the lag monitor polls again",
			age.Round(time.Second), r.stale, rec.Replicas))
	}
	return rec, true
}

// compute is the policy, for group g polled at at; st holds its history.
func (r *Recommender) compute(st *state, g lag.Group, at time.Time) Recommendation {
	rec := Recommendation{Group: g.Name, At: at, Members: len(g.Members), Partitions: len(g.Partitions), Capacity: st.capacity}
	rec.Useful = Useful(rec.Partitions)
	say := func(format string, args ...any) { rec.Reasons = append(rec.Reasons, fmt.Sprintf(format, args...)) }
	hold := func(format string, args ...any) Recommendation {
		say(format, args...)
		rec.Held = true
		switch {
		case st.have:
			rec.Replicas = st.rec.Replicas
		case rec.Members > 0:
			rec.Replicas = rec.Members
		default:
			rec.Replicas = r.cfg.MinReplicas
		}
		rec.Wanted = rec.Replicas
		say("holding %d", rec.Replicas)
		return rec
	}

	switch {
	case g.Err != "" || g.Status == lag.Err:
		return hold("the group's offsets could not be read (%s)", g.Err)
	case rec.Members == 0:
		return hold("the group has no members (stopped, or between deployments): nothing to measure")
	case rec.Partitions == 0:
		return hold("the group consumes no partition")
	}

	// Stuck partitions are alerted (VeltrixConsumerGroupStalled), not
	// scaled for: their lag does not move whoever owns them.
	stuck := map[string]bool{}
	for _, p := range g.Partitions {
		key := fmt.Sprintf("%s/%d", p.Topic, p.Partition)
		switch {
		case p.Status == lag.Stall || p.Status == lag.Stop:
			stuck[key] = true
			rec.Stalled = append(rec.Stalled, key)
			rec.StalledLag += p.Lag
		case p.Lag > 0:
			rec.Lag += p.Lag
			rec.PartitionsWithLag++
		}
	}
	if len(rec.Stalled) > 0 {
		say("%d partitions are stuck (%v, %d records of lag): alerted, not scaled for, since more members do not move them", len(rec.Stalled), rec.Stalled, rec.StalledLag)
	}

	// Rates over the polls kept: the input from the end offsets, the
	// consumption from the commits, per partition seen in both.
	first := st.polls[0]
	dt := at.Sub(first.at).Seconds()
	if len(st.polls) < 2 || dt <= 0 {
		return hold("one poll so far: the rates need two")
	}
	old := map[string]lag.Partition{}
	for _, p := range first.g.Partitions {
		old[fmt.Sprintf("%s/%d", p.Topic, p.Partition)] = p
	}
	var in, done int64
	for _, p := range g.Partitions {
		key := fmt.Sprintf("%s/%d", p.Topic, p.Partition)
		o, ok := old[key]
		if !ok || stuck[key] {
			continue
		}
		in += max(p.End-o.End, 0)
		if p.HasCommit && o.HasCommit {
			done += max(p.Committed-o.Committed, 0)
		}
	}
	rec.InputRate, rec.ConsumeRate = float64(in)/dt, float64(done)/dt
	say("over the last %s: %.0f records/s in, %.0f records/s consumed by %s (stuck partitions left out)", (time.Duration(dt * float64(time.Second))).Round(time.Second), rec.InputRate, rec.ConsumeRate, Members(rec.Members))

	// Capacity: what a member consumes while the group is behind; while it
	// keeps up, what it consumes is only a lower bound.
	per := rec.ConsumeRate / float64(rec.Members)
	var timeLag time.Duration
	for _, p := range g.Partitions {
		if !stuck[fmt.Sprintf("%s/%d", p.Topic, p.Partition)] && p.TimeLagKnown {
			timeLag = max(timeLag, p.TimeLag(at))
		}
	}
	// A window in which members joined or left measures the rebalance
	// pauses too: no capacity is learnt from it.
	steady := true
	for _, p := range st.polls {
		steady = steady && len(p.g.Members) == rec.Members
	}
	switch {
	case !steady:
		say("the members changed within the window: no capacity measured from it")
	case timeLag >= saturatedTimeLag && per > 0:
		if !st.measured {
			st.capacity, st.measured = per, true
		} else {
			st.capacity = (st.capacity + per) / 2
		}
		say("the group is %s behind, so its members run at capacity: %.0f records/s each (averaged: %.0f)", timeLag.Round(time.Second), per, st.capacity)
	case per > st.capacity:
		st.capacity = per
		say("the group keeps up: a member handles at least %.0f records/s", per)
	}
	saturated := timeLag >= saturatedTimeLag
	rec.Capacity = st.capacity
	if st.capacity == 0 {
		return hold("no member capacity measured yet (nothing consumed)")
	}
	if saturated && steady && rec.ConsumeRate > 0 {
		st.observeTotal(rec.Members, rec.ConsumeRate)
	}
	active := rec.Partitions - len(rec.Stalled)
	partCap, evidence := st.partitionBound(active)
	drain := float64(rec.Lag) / r.cfg.TargetDrainTime.Seconds()
	if partCap > 0 {
		// Latency-bound: the count that reaches the rate needed, or else
		// the fewest reaching the most the partitions give.
		rec.PartitionCapacity = partCap
		member := st.memberCeiling()
		rate := func(n int) float64 { return groupRate(n, active, member, partCap) }
		say("more members did not raise the group's rate (%s): each partition does at most %.0f records/s, a member at most %.0f; with %s the group does %.0f records/s",
			evidence, partCap, member, Members(rec.Members), rate(rec.Members))
		var ok bool
		if rec.ForInput, ok = fewestFor(rec.InputRate/r.cfg.TargetUtilization, rec.Partitions, rate); !ok {
			say("no count keeps up with %.0f records/s: the partitions are the bound (a faster handler, more concurrency per partition or more partitions are); %s already do the most", rec.InputRate, Members(rec.ForInput))
		}
		rec.ForDrain, _ = fewestFor(rec.InputRate+drain, rec.Partitions, rate)
		rec.ForDrain = max(rec.ForDrain, rec.ForInput)
		say("keeping up at %.0f%% utilization takes %d; draining %d records within %s as well takes %d",
			100*r.cfg.TargetUtilization, rec.ForInput, rec.Lag, r.cfg.TargetDrainTime, rec.ForDrain)
		r.decide(st, &rec, say, at)
		return rec
	}

	rec.ForInput = int(math.Ceil(rec.InputRate / (st.capacity * r.cfg.TargetUtilization)))
	if !st.measured && !saturated && rec.ForInput > rec.Members {
		// A lower bound of the capacity overstates the need: a group that
		// keeps up and was never seen behind is not scaled up for headroom
		// it may already have.
		say("the capacity is only a lower bound and the group keeps up: %s suffice", Members(rec.Members))
		rec.ForInput = rec.Members
	}
	rec.ForDrain = int(math.Ceil((rec.InputRate + drain) / st.capacity))
	say("keeping up at %.0f%% utilization takes %d; draining %d records within %s as well takes %d",
		100*r.cfg.TargetUtilization, rec.ForInput, rec.Lag, r.cfg.TargetDrainTime, rec.ForDrain)
	if !st.measured && !saturated && rec.ForDrain > rec.Members {
		// The same lower bound: what commit intervals leave behind in a
		// group that keeps up is no reason to add members.
		say("the capacity is only a lower bound and the group keeps up: %s drain it", Members(rec.Members))
		rec.ForDrain = rec.Members
	}
	r.decide(st, &rec, say, at)
	return rec
}

// decide turns ForInput and ForDrain into the recommendation: at most the
// partitions with lag for draining, the minimum and maximum, a useful
// count, and the scale-down delay.
func (r *Recommender) decide(st *state, rec *Recommendation, say func(string, ...any), at time.Time) {
	if limit := max(rec.ForInput, rec.PartitionsWithLag); rec.ForDrain > limit {
		say("only %d partitions have lag: more members than that do not drain faster; %d", rec.PartitionsWithLag, limit)
		rec.ForDrain = limit
	}
	want := max(rec.ForInput, rec.ForDrain, r.cfg.MinReplicas)
	limit := rec.Partitions
	if r.cfg.MaxReplicas > 0 && r.cfg.MaxReplicas < limit {
		limit = r.cfg.MaxReplicas
	}
	if want > limit {
		say("capped at %d (%d partitions, autoscale.max_replicas %d)", limit, rec.Partitions, r.cfg.MaxReplicas)
		want = limit
	}
	if u := roundUseful(want, rec.Useful, limit); u != want {
		say("%s would leave some member %d partitions, no fewer than %d members do: %d", Members(want), ceilDiv(rec.Partitions, want), prevUseful(want, rec.Useful), u)
		want = u
	}
	rec.Wanted = want

	// Hysteresis: up at once, down only after a lower count has been
	// wanted for the whole delay, to the highest count wanted meanwhile.
	// A scale-down once decided is asked for until the members follow:
	// an autoscaler with its own stabilization window (the manifests'
	// HPA) follows only a count that lasts, and going back to the members'
	// count at the next poll restarted the delay forever.
	if st.down > 0 && (rec.Members <= st.down || want > st.down) {
		st.down = 0
	}
	switch {
	case want >= rec.Members:
		st.below, st.down = time.Time{}, 0
		rec.Replicas = want
	case st.down > 0:
		rec.Replicas = st.down
		// The delay of a further step down runs meanwhile.
		if st.below.IsZero() {
			st.below, st.belowMax = at, want
		}
		st.belowMax = max(st.belowMax, want)
		say("%d would do; scaling down to %d, decided after autoscale.scale_down_delay, until the members follow", want, st.down)
	case r.cfg.ScaleDownDelay == 0:
		rec.Replicas = want
	case st.below.IsZero():
		st.below, st.belowMax = at, want
		rec.Replicas = rec.Members
		say("%d would do; scaling down waits autoscale.scale_down_delay (%s): each scale-down is a rebalance", want, r.cfg.ScaleDownDelay)
	default:
		st.belowMax = max(st.belowMax, want)
		if waited := at.Sub(st.below); waited < r.cfg.ScaleDownDelay {
			rec.Replicas = rec.Members
			say("%d would do for %s of autoscale.scale_down_delay (%s)", st.belowMax, waited.Round(time.Second), r.cfg.ScaleDownDelay)
		} else {
			rec.Replicas = st.belowMax
			st.below, st.down = time.Time{}, st.belowMax
			say("%d has been enough for %s: scaling down", st.belowMax, waited.Round(time.Second))
		}
	}
	say("recommended: %d (now %d)", rec.Replicas, rec.Members)
}

// Useful returns the member counts that lower the most partitions any
// member owns, for partitions partitions: 6 gives 1, 2, 3, 6.
func Useful(partitions int) []int {
	var out []int
	for n := 1; n <= partitions; n++ {
		if n == 1 || ceilDiv(partitions, n) < ceilDiv(partitions, n-1) {
			out = append(out, n)
		}
	}
	return out
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// prevUseful returns the largest useful count below n.
func prevUseful(n int, useful []int) int {
	p := 0
	for _, u := range useful {
		if u < n {
			p = u
		}
	}
	return p
}

// roundUseful returns the smallest useful count at least n, or the largest
// useful one within limit when that is above it.
func roundUseful(n int, useful []int, limit int) int {
	best := 0
	for _, u := range useful {
		if u >= n && u <= limit {
			return u
		}
		if u <= limit {
			best = u
		}
	}
	if best == 0 {
		return n
	}
	return best
}

// Members says n members in words: "1 member", "3 members".
func Members(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}
