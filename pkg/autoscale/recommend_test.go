package autoscale

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/pkg/lag"
)

func TestUseful(t *testing.T) {
	for _, tc := range []struct {
		partitions int
		want       []int
	}{
		{1, []int{1}},
		{6, []int{1, 2, 3, 6}},
		{12, []int{1, 2, 3, 4, 6, 12}},
		{24, []int{1, 2, 3, 4, 5, 6, 8, 12, 24}},
		{7, []int{1, 2, 3, 4, 7}},
	} {
		if got := Useful(tc.partitions); !slices.Equal(got, tc.want) {
			t.Errorf("Useful(%d) = %v, want %v", tc.partitions, got, tc.want)
		}
	}
}

// cluster simulates a group's partitions between polls: records arrive at
// a rate per partition, members consume up to a capacity each, spread over
// the partitions with lag.
type cluster struct {
	t          *testing.T
	at         time.Time
	members    int
	partitions []lag.Partition
	start      time.Time
	// partitionCap bounds each partition's records/s (a latency-bound
	// handler); 0: only the members' capacity bounds it.
	partitionCap float64
}

// newCluster has six partitions.
func newCluster(t *testing.T, members int) *cluster {
	c := &cluster{t: t, at: time.Unix(1_700_000_000, 0), members: members}
	c.start = c.at
	for i := range 6 {
		c.partitions = append(c.partitions, lag.Partition{Topic: "events", Partition: int32(i), HasCommit: true})
	}
	return c
}

// step advances 10s: in records/s arrive on each partition (except those
// listed as stuck, which still receive but never commit), each member
// consumes up to capacity records/s.
func (c *cluster) step(in, capacity float64, stuck ...int32) *lag.Snapshot {
	const d = 10 * time.Second
	c.at = c.at.Add(d)
	budget := capacity * float64(c.members) * d.Seconds()
	live := 0
	for _, p := range c.partitions {
		if !slices.Contains(stuck, p.Partition) {
			live++
		}
	}
	for i := range c.partitions {
		p := &c.partitions[i]
		p.End += int64(in * d.Seconds())
		if slices.Contains(stuck, p.Partition) {
			p.Status = lag.Stall
		} else {
			p.Status = lag.OK
			share := int64(budget / float64(live))
			if c.partitionCap > 0 {
				share = min(share, int64(c.partitionCap*d.Seconds()))
			}
			p.Committed = min(p.End, p.Committed+share)
		}
		p.Lag = p.End - p.Committed
		p.TimeLagKnown = true
		p.RecordTime = time.Time{}
		if p.Lag > 0 {
			// Records arrive evenly: the oldest unread one arrived lag/in ago.
			p.RecordTime = c.at.Add(-time.Duration(float64(p.Lag) / in * float64(time.Second)))
		}
	}
	g := lag.Group{Name: "g", State: "Stable", Partitions: slices.Clone(c.partitions)}
	for range c.members {
		g.Members = append(g.Members, lag.Member{ID: "m"})
	}
	return &lag.Snapshot{Cluster: "c", At: c.at, Groups: []lag.Group{g}}
}

func recommender(t *testing.T, mod func(*Config)) *Recommender {
	t.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func recommend(t *testing.T, r *Recommender, s *lag.Snapshot) Recommendation {
	t.Helper()
	r.Observe(s)
	rec, ok := r.Recommend("g", s.At)
	if !ok {
		t.Fatal("no recommendation")
	}
	return rec
}

// TestKeepsUp: members that keep up are not scaled.
func TestKeepsUp(t *testing.T) {
	r := recommender(t, nil)
	c := newCluster(t, 2)
	var rec Recommendation
	for range 10 {
		// 6 partitions × 100/s = 600/s; 2 members of 1000/s each.
		rec = recommend(t, r, c.step(100, 1000))
	}
	if rec.Replicas != 2 || rec.Held {
		t.Errorf("recommended %d (held %v), want 2: %s", rec.Replicas, rec.Held, strings.Join(rec.Reasons, "; "))
	}
}

// TestLagGrowsMoreReplicasCapped: input beyond capacity scales up, to a
// useful count, never past the partitions.
func TestLagGrowsMoreReplicasCapped(t *testing.T) {
	r := recommender(t, nil)
	c := newCluster(t, 1)
	var rec Recommendation
	for range 6 {
		// 570/s in, one member of 250/s: lag grows by 320/s.
		rec = recommend(t, r, c.step(95, 250))
	}
	if rec.Replicas <= 1 || !slices.Contains(Useful(6), rec.Replicas) {
		t.Fatalf("recommended %d, want a useful count above 1: %s", rec.Replicas, strings.Join(rec.Reasons, "; "))
	}
	if rec.Capacity < 200 || rec.Capacity > 300 {
		t.Errorf("capacity %.0f/s, want about 250", rec.Capacity)
	}
	// 570/s at 80% of 250/s needs 3; draining the lag too needs more.
	if rec.ForInput != 3 {
		t.Errorf("for input %d, want 3", rec.ForInput)
	}

	// Ten times the input: capped at the partitions.
	for range 6 {
		rec = recommend(t, r, c.step(1000, 250))
	}
	if rec.Replicas != 6 {
		t.Errorf("recommended %d at 6000/s, want 6 (the partitions): %s", rec.Replicas, strings.Join(rec.Reasons, "; "))
	}
}

// TestNeverUselessCounts: 4 and 5 members of 6 partitions leave one member
// with 2 partitions, like 3 do: never recommended.
func TestNeverUselessCounts(t *testing.T) {
	for in := 50.0; in <= 1500; in += 50 {
		r := recommender(t, nil)
		c := newCluster(t, 1)
		var rec Recommendation
		for range 4 {
			rec = recommend(t, r, c.step(in, 400))
		}
		if !slices.Contains([]int{1, 2, 3, 6}, rec.Replicas) {
			t.Errorf("at %.0f/s per partition: recommended %d", in, rec.Replicas)
		}
	}
}

// TestStuckPartitionNoScale: one partition's lag grows because its owner
// is stuck; the others keep up. The lag is alerted (STALL), not scaled for.
func TestStuckPartitionNoScale(t *testing.T) {
	r := recommender(t, nil)
	c := newCluster(t, 2)
	var rec Recommendation
	for range 10 {
		rec = recommend(t, r, c.step(100, 1000, 3))
	}
	if rec.Replicas != 2 {
		t.Errorf("recommended %d, want 2 (a stuck partition is not scaled for): %s", rec.Replicas, strings.Join(rec.Reasons, "; "))
	}
	if len(rec.Stalled) != 1 || rec.StalledLag == 0 {
		t.Errorf("stalled %v with %d lag, want events/3 with lag", rec.Stalled, rec.StalledLag)
	}
}

// TestStaleHolds: without new polls the recommendation holds.
func TestStaleHolds(t *testing.T) {
	r := recommender(t, nil)
	c := newCluster(t, 1)
	var rec Recommendation
	for range 6 {
		rec = recommend(t, r, c.step(100, 250))
	}
	later, _ := r.Recommend("g", rec.At.Add(5*time.Minute))
	if !later.Held || later.Replicas != rec.Replicas {
		t.Errorf("5 minutes later: %d held %v, want %d held", later.Replicas, later.Held, rec.Replicas)
	}
	if !strings.Contains(strings.Join(later.Reasons, " "), "old") {
		t.Errorf("reasons do not say the poll is old: %v", later.Reasons)
	}
	// The same snapshot again (a scrape between polls) changes nothing.
	r.Observe(&lag.Snapshot{At: rec.At, Groups: nil})
	if again, ok := r.Recommend("g", rec.At); !ok || again.Replicas != rec.Replicas {
		t.Errorf("re-observing an old snapshot changed the recommendation: %v %v", again, ok)
	}
}

// TestErrorsHold: unreadable offsets and an empty group hold the last
// recommendation instead of dropping to the minimum.
func TestErrorsHold(t *testing.T) {
	r := recommender(t, nil)
	c := newCluster(t, 1)
	var rec Recommendation
	for range 6 {
		rec = recommend(t, r, c.step(100, 250))
	}
	s := c.step(100, 250)
	s.Groups[0].Err, s.Groups[0].Status = "NOT_COORDINATOR", lag.Err
	if got := recommend(t, r, s); !got.Held || got.Replicas != rec.Replicas {
		t.Errorf("on an error: %d held %v, want %d held", got.Replicas, got.Held, rec.Replicas)
	}
	s = c.step(100, 250)
	s.Groups[0].Members = nil
	if got := recommend(t, r, s); !got.Held || got.Replicas != rec.Replicas {
		t.Errorf("with no members (a broker replacement, a redeploy): %d held %v, want %d held", got.Replicas, got.Held, rec.Replicas)
	}
}

// TestScaleDownWaits: after the load drops, the count falls only once a
// lower one has been wanted for the whole delay.
func TestScaleDownWaits(t *testing.T) {
	r := recommender(t, func(c *Config) { c.ScaleDownDelay = time.Minute })
	c := newCluster(t, 6)
	// Capacity measured under a backlog: 6 members at 100/s, 6000/s in.
	for range 6 {
		recommend(t, r, c.step(1000, 100))
	}
	// Input falls to 60/s in all, the backlog is gone: 1 member would do.
	c.members = 6
	var counts []int
	for range 12 {
		rec := recommend(t, r, c.step(10, 1000))
		counts = append(counts, rec.Replicas)
		c.members = rec.Replicas
	}
	if counts[0] != 6 || counts[len(counts)-1] >= 6 {
		t.Errorf("counts after the drop %v: want 6 first, lower after a minute", counts)
	}
	first := slices.IndexFunc(counts, func(n int) bool { return n < 6 })
	if first < 5 {
		t.Errorf("scaled down after %d polls of 10s, before the 1m delay: %v", first, counts)
	}
}

// TestNoFlapping: a steady load near a boundary does not alternate.
func TestNoFlapping(t *testing.T) {
	r := recommender(t, nil)
	c := newCluster(t, 2)
	changes, last := 0, 2
	for i := range 60 {
		in := 100.0
		if i%2 == 0 {
			in = 130 // ±15% noise around the boundary of 2 members at 80%
		}
		rec := recommend(t, r, c.step(in, 500))
		if rec.Replicas != last {
			changes++
			last = rec.Replicas
			c.members = rec.Replicas
		}
	}
	if changes > 2 {
		t.Errorf("%d changes of the count in 10 minutes of noisy steady load", changes)
	}
}

// TestLatencyBoundNotScaledToPartitions: a handler that does at most
// 100 records/s per partition (a remote call per record) on members that
// could compute 1000/s. One member over 6 partitions does 600/s; two do the
// same. Measured per member, the capacity halves with every scale-up, so
// the recommendation climbed to the partitions and stayed there when the
// load fell, though one member did as much. Per partition, more members are
// seen to buy nothing.
func TestLatencyBoundNotScaledToPartitions(t *testing.T) {
	r := recommender(t, func(c *Config) { c.ScaleDownDelay = time.Minute })
	c := newCluster(t, 1)
	c.partitionCap = 100
	var rec Recommendation
	// 900/s in: above what any count can do (600/s). The first scale-up is
	// the experiment that shows it.
	for range 30 {
		rec = recommend(t, r, c.step(150, 1000))
		c.members = rec.Replicas
	}
	if rec.Wanted != 1 || rec.Replicas != 1 {
		t.Errorf("overloaded latency-bound group: wanted %d, recommended %d; want 1 (more members did nothing): %s", rec.Wanted, rec.Replicas, strings.Join(rec.Reasons, "; "))
	}
	if rec.PartitionCapacity < 90 || rec.PartitionCapacity > 110 {
		t.Errorf("capacity per partition %.0f/s, want about 100: %s", rec.PartitionCapacity, strings.Join(rec.Reasons, "; "))
	}
	// The load falls to 300/s and the backlog drains: one member is enough.
	for range 60 {
		rec = recommend(t, r, c.step(50, 1000))
		c.members = rec.Replicas
	}
	if rec.Replicas != 1 {
		t.Errorf("at 300/s: recommended %d, want 1 (one member did 600/s): %s", rec.Replicas, strings.Join(rec.Reasons, "; "))
	}
}

// TestScaleDownHeldUntilFollowed: a scale-down, once the delay has passed,
// is asked for until the members follow. An HPA with its own
// stabilization window acts on a count only once it has lasted the window;
// the recommendation went back to the members' count at the next poll,
// restarting the delay, so the HPA never scaled down.
func TestScaleDownHeldUntilFollowed(t *testing.T) {
	r := recommender(t, func(c *Config) { c.ScaleDownDelay = time.Minute })
	c := newCluster(t, 6)
	for range 6 {
		recommend(t, r, c.step(1000, 100))
	}
	var counts []int
	for range 20 {
		// The members stay 6: the autoscaler has not followed yet.
		counts = append(counts, recommend(t, r, c.step(10, 1000)).Replicas)
	}
	first := slices.IndexFunc(counts, func(n int) bool { return n < 6 })
	if first < 0 {
		t.Fatalf("never scaled down: %v", counts)
	}
	for _, n := range counts[first:] {
		if n >= 6 {
			t.Fatalf("the scale-down lasted %d polls, then went back to 6: %v", slices.Index(counts[first:], n), counts)
		}
	}
}
