package autoscale

import (
	"fmt"
	"slices"
)

// A member's rate is bounded two ways: by what it can compute (CPU: the
// same whatever it owns) and by what each of its partitions can deliver —
// a latency-bound handler (a remote call per record, in order within a
// partition) does at most some rate per partition, so a member's rate is
// its partitions × that rate. Modelled as min(member, owned × partition),
// a group of n members over P partitions does
//
//	Σ over members min(member capacity, owned partitions × partition capacity)
//
// With the partition bound unknown the sum is n × member capacity, the
// CPU-bound model. A latency-bound group looks the same at any one member
// count; the difference shows between counts: adding members to a
// CPU-bound group raises its rate, to a latency-bound one it does not (the
// same partitions, each at its own pace, only spread wider). So the
// recommender remembers the rate the group reached while behind at each
// member count it ran (over windows without a membership change), and once
// more members did not raise it — by less than a quarter of the
// proportional gain — it takes the partition bound as measured: the best
// rate seen over the partitions. Without that, a per-member capacity
// measured at n members under the partition bound is the partitions' rate
// shared n ways: scaling up halves it again and again, the recommendation
// climbs to the partitions and stays there when the load falls, though one
// member did as much.

// partitionBoundGain is the share of the proportional gain below which a
// higher member count counts as having bought nothing.
const partitionBoundGain = 0.25

// observeTotal records rate, the group's records/s while behind with n
// members, averaged with earlier windows at the same count.
func (st *state) observeTotal(n int, rate float64) {
	if st.totals == nil {
		st.totals = map[int]float64{}
	}
	if old, ok := st.totals[n]; ok {
		rate = (old + rate) / 2
	}
	st.totals[n] = rate
}

// partitionBound returns the measured records/s per partition, over active
// partitions, and the evidence; 0 while no higher member count has failed
// to raise the group's rate.
func (st *state) partitionBound(active int) (float64, string) {
	if active == 0 || len(st.totals) < 2 {
		return 0, ""
	}
	counts := make([]int, 0, len(st.totals))
	best := 0.0
	for n, r := range st.totals {
		counts = append(counts, n)
		best = max(best, r)
	}
	slices.Sort(counts)
	for i := 1; i < len(counts); i++ {
		n1, n2 := counts[i-1], counts[i]
		t1, t2 := st.totals[n1], st.totals[n2]
		if t2 < t1*(1+partitionBoundGain*(float64(n2)/float64(n1)-1)) {
			return best / float64(active), fmt.Sprintf("%s behind did %.0f records/s, %s %.0f", Members(n1), t1, Members(n2), t2)
		}
	}
	return 0, ""
}

// memberCeiling returns the best records/s per member seen while behind,
// at any count.
func (st *state) memberCeiling() float64 {
	c := st.capacity
	for n, r := range st.totals {
		c = max(c, r/float64(n))
	}
	return c
}

// groupRate is what n members do over active partitions, spread as evenly
// as the assignors spread them, each member at most member records/s and
// each partition at most partition records/s (0: no partition bound).
func groupRate(n, active int, member, partition float64) float64 {
	if partition == 0 || n <= 0 {
		return float64(n) * member
	}
	total := 0.0
	for i := range n {
		owned := active / n
		if i < active%n {
			owned++
		}
		total += min(member, float64(owned)*partition)
	}
	return total
}

// fewestFor returns the fewest members, up to limit, whose rate reaches
// need; when none does, the fewest that reach the most any count does.
func fewestFor(need float64, limit int, rate func(int) float64) (n int, reached bool) {
	best, bestRate := 1, rate(1)
	for n := 1; n <= limit; n++ {
		r := rate(n)
		if r >= need {
			return n, true
		}
		if r > bestRate*1.001 {
			best, bestRate = n, r
		}
	}
	return best, false
}
