package autoscale_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/autoscale"
	"github.com/veltrix/veltrix/pkg/lag"
)

// rig is a topic of six partitions, a group of one member that commits
// what the test says, the lag monitor, and the recommender fed with its
// polls. The offsets, members, owners and statuses are the cluster's; the
// clock is the test's — every poll is stamped 10s after the previous one,
// and records 30s before their poll — so the rates do not depend on how
// fast the machine runs the test.
type rig struct {
	t         *testing.T
	topic     string
	group     string
	pr        *kgo.Client
	member    *kgo.Client
	mon       *lag.Monitor
	rec       *autoscale.Recommender
	at        time.Time
	committed map[int32]int64
	ends      map[int32]int64
}

const parts = 6

func newRig(t *testing.T, c kafkatest.Cluster) *rig {
	r := &rig{t: t, topic: kafkatest.Name(t, "topic"), group: kafkatest.Name(t, "group"),
		at: time.Now().Add(-time.Hour).Truncate(time.Second), committed: map[int32]int64{}, ends: map[int32]int64{}}
	kafkatest.CreateTopic(t, c.Brokers, r.topic, parts)
	var err error
	r.pr, err = kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.pr.Close)
	r.member, err = kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.ConsumerGroup(r.group), kgo.ConsumeTopics(r.topic),
		kgo.DisableAutoCommit(), kgo.ClientID("member"), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.member.Close)
	mc, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mc.Close)
	r.mon, err = lag.New(mc, lag.Config{Interval: time.Second, Window: 3, Reset: "earliest", Cluster: "test"}, lag.Options{Groups: []string{r.group}})
	if err != nil {
		t.Fatal(err)
	}
	r.rec, err = autoscale.New(autoscale.DefaultConfig(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 30*time.Second, "the member to own all six partitions", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		r.member.PollFetches(ctx)
		s, err := r.mon.Poll(context.Background())
		if err != nil {
			return false
		}
		g, _ := s.Group(r.group)
		owned := 0
		for _, p := range g.Partitions {
			if p.Owner == "member" {
				owned++
			}
		}
		return owned == parts
	})
	return r
}

// round produces in records to each partition (extra[p] more to p),
// commits done more on each (at most its end; none on the stuck ones),
// polls 10s after the previous poll, and returns the recommendation.
func (r *rig) round(in, done int, extra map[int32]int, stuck ...int32) autoscale.Recommendation {
	r.t.Helper()
	r.at = r.at.Add(10 * time.Second)
	var recs []*kgo.Record
	for p := range int32(parts) {
		for i := range in + extra[p] {
			recs = append(recs, &kgo.Record{Topic: r.topic, Partition: p, Value: []byte(strconv.Itoa(i)), Timestamp: r.at.Add(-30 * time.Second)})
		}
		r.ends[p] += int64(in + extra[p])
	}
	if err := r.pr.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		r.t.Fatalf("producing: %v", err)
	}
	commit := map[int32]kgo.EpochOffset{}
	for p := range int32(parts) {
		if slices.Contains(stuck, p) {
			continue
		}
		r.committed[p] = min(r.ends[p], r.committed[p]+int64(done))
		commit[p] = kgo.EpochOffset{Epoch: -1, Offset: r.committed[p]}
	}
	var cerr error
	r.member.CommitOffsetsSync(context.Background(), map[string]map[int32]kgo.EpochOffset{r.topic: commit},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			cerr = err
			if err == nil {
				for _, tp := range resp.Topics {
					for _, pp := range tp.Partitions {
						if pp.ErrorCode != 0 {
							cerr = kgoErr(pp.ErrorCode)
						}
					}
				}
			}
		})
	if cerr != nil {
		r.t.Fatalf("committing: %v", cerr)
	}
	s, err := r.mon.Poll(context.Background())
	if err != nil {
		r.t.Fatalf("polling: %v", err)
	}
	s.At = r.at
	r.rec.Observe(s)
	rec, ok := r.rec.Recommend(r.group, r.at)
	if !ok {
		r.t.Fatal("no recommendation for the group")
	}
	return rec
}

// gatherOne returns the recommendation series of group as a collector.
func gatherOne(t *testing.T, reg *prometheus.Registry, group string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "veltrix_autoscale_recommended_replicas" {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "group" && l.GetValue() == group {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(m.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no veltrix_autoscale_recommended_replicas series for group %s", group)
	return nil
}

type kgoErr int16

func (e kgoErr) Error() string { return "error code " + strconv.Itoa(int(e)) }

// TestRecommendationOnCluster: lag that grows scales up, capped at the
// partitions; a stuck partition is not scaled for; stale polls hold.
func TestRecommendationOnCluster(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		t.Run("lag grows", func(t *testing.T) {
			r := newRig(t, c)
			var rec autoscale.Recommendation
			for range 4 {
				// 18 records/s in, the member commits 12/s: half as much
				// again is needed, so 2 members, not the cap.
				rec = r.round(30, 20, nil)
			}
			if rec.Replicas != 2 {
				t.Fatalf("1.5 times what one member does: recommended %d, want 2\n%s", rec.Replicas, strings.Join(rec.Reasons, "\n"))
			}
			for range 6 {
				// 60 records/s in, the member commits 12/s: five times short.
				rec = r.round(100, 20, nil)
			}
			if rec.Replicas != parts || rec.ForInput <= parts {
				t.Fatalf("recommended %d (for the input alone %d), want %d: the partitions cap it\n%s", rec.Replicas, rec.ForInput, parts, strings.Join(rec.Reasons, "\n"))
			}
			// The lag exporter's series carries the same count.
			reg := prometheus.NewRegistry()
			reg.MustRegister(autoscale.NewCollector(r.mon, r.rec))
			if got := testutil.ToFloat64(gatherOne(t, reg, r.group)); got != float64(parts) {
				t.Errorf("veltrix_autoscale_recommended_replicas = %v, want %d", got, parts)
			}
			// No new poll for two minutes: the count holds.
			stale, _ := r.rec.Recommend(r.group, r.at.Add(2*time.Minute))
			if !stale.Held || stale.Replicas != parts {
				t.Errorf("two minutes without a poll: %d held %v, want %d held", stale.Replicas, stale.Held, parts)
			}
		})
		t.Run("stuck partition", func(t *testing.T) {
			r := newRig(t, c)
			// A backlog of 50 per partition that the member works off at
			// 18/s against 12/s in: it keeps up, so one member is enough.
			r.round(50, 0, nil)
			var rec autoscale.Recommendation
			for range 3 {
				rec = r.round(20, 30, nil)
			}
			if rec.Replicas != 1 {
				t.Fatalf("before the stall: recommended %d, want 1\n%s", rec.Replicas, strings.Join(rec.Reasons, "\n"))
			}
			// Partition 0 gets a burst of 3000 and its commits stop.
			rec = r.round(20, 30, map[int32]int{0: 3000}, 0)
			for range 4 {
				rec = r.round(20, 30, nil, 0)
			}
			if !slices.Contains(rec.Stalled, r.topic+"/0") {
				t.Fatalf("partition 0 is not STALL after four polls without a commit: stalled %v\n%s", rec.Stalled, strings.Join(rec.Reasons, "\n"))
			}
			if rec.Replicas != 1 {
				t.Errorf("with partition 0 stuck: recommended %d, want 1 (alerted, not scaled for)\n%s", rec.Replicas, strings.Join(rec.Reasons, "\n"))
			}
		})
	})
}
