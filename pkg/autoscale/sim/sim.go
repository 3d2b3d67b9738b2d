// Package sim replays a load profile against an autoscaling policy: a
// consumer group of members that start, join, rebalance and consume at a
// measured capacity, a lag monitor that polls it, and an autoscaler (a
// HorizontalPodAutoscaler's rules) that sets the member count from the
// policy. It compares veltrix's recommendation (pkg/autoscale, the real
// Recommender fed with the simulated polls) with KEDA's Kafka-scaler
// formula on the same profile; Plot draws both.
//
// The model, per 100 ms step: records arrive at the profile's rate, spread
// evenly over the partitions; each member consumes its partitions up to its
// capacity (and each partition up to its own, for a latency-bound handler)
// and commits every second; every change of the running members stops the
// whole group for the rebalance pause; a new member runs after the start
// delay. The autoscaler acts every sync interval: up at once (at most
// doubling, or four more, per sync), down to the highest count wanted over
// its stabilization window.
package sim

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/veltrix/veltrix/pkg/autoscale"
	"github.com/veltrix/veltrix/pkg/lag"
)

// Profile is the input rate, in records/s, at a time into the run.
type Profile func(t time.Duration) float64

// SeedRamp is the seed team's load: a steady 1,000 records/s for 5 minutes,
// a ramp to 10,000/s over 10 minutes, 10,000/s for 10 minutes, a burst of
// 15,000/s (15× the start) for a minute, then 1,000/s again; 45 minutes.
func SeedRamp() (Profile, time.Duration) {
	return func(t time.Duration) float64 {
		m := t.Minutes()
		switch {
		case m < 5:
			return 1000
		case m < 15:
			return 1000 + 9000*(m-5)/10
		case m < 25:
			return 10000
		case m < 26:
			return 15000
		default:
			return 1000
		}
	}, 45 * time.Minute
}

// Config is the group, the cluster and the autoscaler simulated.
type Config struct {
	Partitions int
	// MemberCapacity is the records/s a member computes; PartitionCapacity
	// the records/s a partition gives (a latency-bound handler), 0 none.
	MemberCapacity    float64
	PartitionCapacity float64
	// StartDelay is from the autoscaler's decision to a new member in the
	// group; RebalancePause the time every membership change stops the
	// group.
	StartDelay     time.Duration
	RebalancePause time.Duration
	// PollInterval is the lag monitor's; SyncInterval the autoscaler's;
	// ScaleDownWindow its stabilization window.
	PollInterval    time.Duration
	SyncInterval    time.Duration
	ScaleDownWindow time.Duration
	Profile         Profile
	Duration        time.Duration
}

// SeedConfig is the seed's ramp on 12 partitions and members of 2,500
// records/s, 20 s to start a pod, 5 s per rebalance, KEDA's and the
// manifests' 15 s sync and 5-minute scale-down window.
func SeedConfig() Config {
	p, d := SeedRamp()
	return Config{Partitions: 12, MemberCapacity: 2500, StartDelay: 20 * time.Second, RebalancePause: 5 * time.Second,
		PollInterval: 10 * time.Second, SyncInterval: 15 * time.Second, ScaleDownWindow: 5 * time.Minute, Profile: p, Duration: d}
}

// Policy turns the lag monitor's polls into a desired member count.
type Policy interface {
	// Name labels the policy in plots and tables.
	Name() string
	// Observe sees every poll.
	Observe(s *lag.Snapshot)
	// Desired is the count wanted at now, from the polls seen.
	Desired(now time.Time, current int) int
}

// Veltrix follows autoscale's recommendation (veltrix_autoscale_recommended_replicas).
type Veltrix struct{ r *autoscale.Recommender }

// NewVeltrix returns the policy with cfg, for polls every interval.
func NewVeltrix(cfg autoscale.Config, interval time.Duration) (*Veltrix, error) {
	r, err := autoscale.New(cfg, interval)
	if err != nil {
		return nil, err
	}
	return &Veltrix{r: r}, nil
}

// Name implements Policy.
func (v *Veltrix) Name() string { return "veltrix recommendation" }

// Observe implements Policy.
func (v *Veltrix) Observe(s *lag.Snapshot) { v.r.Observe(s) }

// Desired implements Policy.
func (v *Veltrix) Desired(now time.Time, current int) int {
	rec, ok := v.r.Recommend(group, now)
	if !ok {
		return current
	}
	return rec.Replicas
}

// KEDAKafka is KEDA's Kafka scaler (v2.21): the group's total lag, each
// partition's capped at nothing but the sum at partitions × LagThreshold,
// over LagThreshold, rounded up; at least 1 (minReplicaCount 1), at most
// the partitions.
type KEDAKafka struct {
	LagThreshold float64
	partitions   int
	lag          int64
}

// Name implements Policy.
func (k *KEDAKafka) Name() string {
	return fmt.Sprintf("KEDA Kafka scaler (lagThreshold %.0f)", k.LagThreshold)
}

// Observe implements Policy.
func (k *KEDAKafka) Observe(s *lag.Snapshot) {
	g := s.Groups[0]
	k.partitions, k.lag = len(g.Partitions), 0
	for _, p := range g.Partitions {
		k.lag += p.Lag
	}
}

// Desired implements Policy.
func (k *KEDAKafka) Desired(_ time.Time, current int) int {
	if k.partitions == 0 {
		return current
	}
	total := min(float64(k.lag), float64(k.partitions)*k.LagThreshold)
	return min(max(int(math.Ceil(total/k.LagThreshold)), 1), k.partitions)
}

// Sample is the state once a second.
type Sample struct {
	At         time.Duration
	Input      float64 // records/s arriving
	Desired    int     // the autoscaler's count (pods)
	Members    int     // members in the group
	Lag        int64   // records not yet committed, over the partitions
	MaxTimeLag time.Duration
}

// Result is one policy's run.
type Result struct {
	Policy  string
	Samples []Sample
	// ScaleEvents counts changes of the autoscaler's count; Rebalances the
	// group's membership changes (joins in the same step are one);
	// Reversals the scale events that went the other way than the one
	// before (flapping).
	ScaleEvents, Rebalances, Reversals int
	// Counts are the distinct autoscaler counts, in order of first use.
	Counts     []int
	MaxMembers int
	PeakLag    int64
	PeakTime   time.Duration // the largest time lag
	// Behind is the time spent with a time lag above 1 s; LongestBehind
	// the longest such stretch.
	Behind, LongestBehind time.Duration
	// MemberMinutes is the cost: members × minutes.
	MemberMinutes float64
}

const group = "sim"

// partition is one partition's log: arrivals per step, consumed and
// committed offsets.
type partition struct {
	end       float64   // records arrived, fractional between steps
	arrivals  []float64 // end after each step
	consumed  float64
	committed int64
}

// offsetTime returns when the record at offset arrived.
func (p *partition) offsetTime(offset int64, step time.Duration, start time.Time) time.Time {
	i, _ := slices.BinarySearchFunc(p.arrivals, float64(offset), func(e, t float64) int {
		switch {
		case e <= t:
			return -1
		default:
			return 1
		}
	})
	return start.Add(time.Duration(i) * step)
}

// Run replays cfg.Profile against policy.
func Run(cfg Config, policy Policy) Result {
	const step = 100 * time.Millisecond
	start := time.Unix(1_700_000_000, 0)
	parts := make([]partition, cfg.Partitions)
	res := Result{Policy: policy.Name()}

	desired, members := 1, 1
	var starting []time.Duration // when each starting member joins
	pausedUntil := time.Duration(0)
	behind := time.Duration(0) // the current stretch above 1 s of time lag
	history := []struct {
		at time.Duration
		n  int
	}{}
	lastDir := 0
	counts := map[int]bool{1: true}
	res.Counts = []int{1}

	for now := time.Duration(0); now < cfg.Duration; now += step {
		rate := cfg.Profile(now)
		// Members join once started; the group rebalances.
		joined := 0
		for len(starting) > 0 && starting[0] <= now {
			starting = starting[1:]
			joined++
		}
		if joined > 0 {
			members += joined
			res.Rebalances++
			pausedUntil = now + cfg.RebalancePause
		}
		for i := range parts {
			parts[i].end += rate * step.Seconds() / float64(cfg.Partitions)
			parts[i].arrivals = append(parts[i].arrivals, parts[i].end)
		}
		if now >= pausedUntil {
			consume(parts, members, cfg, step)
		}
		if now%time.Second == time.Second/2 {
			// Commits every second, between the polls.
			for i := range parts {
				parts[i].committed = int64(parts[i].consumed)
			}
		}
		at := start.Add(now)
		if now%cfg.PollInterval == 0 {
			policy.Observe(snapshot(parts, members, at, start, step))
		}
		if now%cfg.SyncInterval == 0 && now > 0 {
			want := policy.Desired(at, desired)
			history = append(history, struct {
				at time.Duration
				n  int
			}{now, want})
			next := hpa(desired, want, now, cfg.ScaleDownWindow, history)
			if next != desired {
				dir := 1
				if next < desired {
					dir = -1
				}
				if lastDir != 0 && dir != lastDir {
					res.Reversals++
				}
				lastDir = dir
				res.ScaleEvents++
				if !counts[next] {
					counts[next] = true
					res.Counts = append(res.Counts, next)
				}
				if next > desired {
					for range next - desired {
						starting = append(starting, now+cfg.StartDelay)
					}
				} else {
					// Pods still starting go first, then running members.
					drop := desired - next
					for drop > 0 && len(starting) > 0 {
						starting = starting[:len(starting)-1]
						drop--
					}
					if drop > 0 {
						members -= drop
						res.Rebalances++
						pausedUntil = now + cfg.RebalancePause
					}
				}
				desired = next
			}
		}
		if now%time.Second == 0 {
			s := Sample{At: now, Input: rate, Desired: desired, Members: members}
			for i := range parts {
				p := &parts[i]
				l := int64(p.end) - p.committed
				s.Lag += l
				if l > 0 {
					s.MaxTimeLag = max(s.MaxTimeLag, at.Sub(p.offsetTime(p.committed, step, start)))
				}
			}
			res.Samples = append(res.Samples, s)
			res.PeakLag = max(res.PeakLag, s.Lag)
			res.PeakTime = max(res.PeakTime, s.MaxTimeLag)
			res.MaxMembers = max(res.MaxMembers, members)
			res.MemberMinutes += float64(members) / 60
			if s.MaxTimeLag > time.Second {
				res.Behind += time.Second
				behind += time.Second
				res.LongestBehind = max(res.LongestBehind, behind)
			} else {
				behind = 0
			}
		}
	}
	return res
}

// consume runs one step of the members over their partitions: member i
// owns the partitions j with j mod members = i (an even spread), and
// spends its capacity on them evenly, what one cannot use going to the
// others.
func consume(parts []partition, members int, cfg Config, step time.Duration) {
	for m := range members {
		var owned []*partition
		for j := m; j < len(parts); j += members {
			owned = append(owned, &parts[j])
		}
		budget := cfg.MemberCapacity * step.Seconds()
		for len(owned) > 0 && budget > 1e-9 {
			share := budget / float64(len(owned))
			var left []*partition
			for _, p := range owned {
				can := p.end - p.consumed
				if cfg.PartitionCapacity > 0 {
					can = min(can, cfg.PartitionCapacity*step.Seconds())
				}
				take := min(can, share)
				p.consumed += take
				budget -= take
				if can > share {
					left = append(left, p)
				}
			}
			if len(left) == len(owned) {
				break
			}
			owned = left
		}
	}
}

// snapshot is what the lag monitor sees.
func snapshot(parts []partition, members int, at, start time.Time, step time.Duration) *lag.Snapshot {
	g := lag.Group{Name: group, State: "Stable"}
	for m := range members {
		g.Members = append(g.Members, lag.Member{ID: fmt.Sprintf("m%d", m), ClientID: fmt.Sprintf("m%d", m)})
	}
	for i := range parts {
		p := &parts[i]
		lp := lag.Partition{Topic: "events", Partition: int32(i), Committed: p.committed, HasCommit: true,
			End: int64(p.end), Status: lag.OK, TimeLagKnown: true}
		if members > 0 {
			lp.Owner = fmt.Sprintf("m%d", i%members)
		}
		lp.Lag = max(lp.End-lp.Committed, 0)
		if lp.Lag > 0 {
			lp.RecordTime = p.offsetTime(p.committed, step, start)
		}
		g.Partitions = append(g.Partitions, lp)
	}
	return &lag.Snapshot{Cluster: "sim", At: at, Groups: []lag.Group{g}}
}

// hpa is a HorizontalPodAutoscaler's step from current towards want: up at
// once, at most to twice current or four more; down to the highest count
// wanted within the window.
func hpa(current, want int, now, window time.Duration, history []struct {
	at time.Duration
	n  int
}) int {
	if want > current {
		return min(want, max(2*current, current+4))
	}
	high := want
	for _, h := range history {
		if now-h.at <= window {
			high = max(high, h.n)
		}
	}
	return min(high, current)
}
