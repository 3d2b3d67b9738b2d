package lag_test

import (
	"bufio"
	"context"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/lag"
)

// client returns a plain client for brokers, closed at test end.
func client(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes n records to one partition, record i stamped ts(i), and
// waits for all of them.
func produce(t testing.TB, cl *kgo.Client, topic string, partition int32, n int, ts func(i int) time.Time) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte(strconv.Itoa(i))}
		if ts != nil {
			recs[i].Timestamp = ts(i)
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing to %s/%d: %v", topic, partition, err)
	}
}

// producer is a client that writes to the partition a record names.
func producer(t testing.TB, brokers []string) *kgo.Client {
	return client(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
}

// commit commits offsets for group as an outside admin, the way an offset
// reset tool does.
func commit(t testing.TB, adm *kadm.Client, group, topic string, offsets map[int32]int64) {
	t.Helper()
	os := make(kadm.Offsets)
	for p, o := range offsets {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	if err := adm.CommitAllOffsets(context.Background(), group, os); err != nil {
		t.Fatalf("committing %v for %s: %v", offsets, group, err)
	}
}

func newMonitor(t testing.TB, brokers []string, cfg lag.Config, reg prometheus.Registerer, groups ...string) *lag.Monitor {
	t.Helper()
	if cfg.Window == 0 {
		cfg.Window = 3
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Reset == "" {
		cfg.Reset = "earliest"
	}
	cfg.Cluster = "test"
	m, err := lag.New(client(t, brokers), cfg, lag.Options{Groups: groups, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func poll(t testing.TB, m *lag.Monitor) *lag.Snapshot {
	t.Helper()
	s, err := m.Poll(context.Background())
	if err != nil {
		t.Fatalf("polling: %v", err)
	}
	return s
}

func group(t testing.TB, s *lag.Snapshot, name string) lag.Group {
	t.Helper()
	g, ok := s.Group(name)
	if !ok {
		t.Fatalf("group %s missing from the snapshot", name)
	}
	return g
}

// toolRow is one row of kafka-consumer-groups --describe.
type toolRow struct{ current, end, lag string }

// describeWithKafkaTool runs Kafka's own ConsumerGroupCommand and returns
// its rows by partition.
func describeWithKafkaTool(t *testing.T, brokers []string, grp, topic string) map[int32]toolRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../../scripts/kafka.sh", "tool", "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
		"--bootstrap-server", brokers[0], "--describe", "--group", grp).CombinedOutput()
	if err != nil {
		t.Fatalf("ConsumerGroupCommand: %v\n%s", err, out)
	}
	rows := map[int32]toolRow{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
		if len(f) < 6 || f[0] != grp || f[1] != topic {
			continue
		}
		p, err := strconv.Atoi(f[2])
		if err != nil {
			t.Fatalf("bad tool row %q", sc.Text())
		}
		rows[int32(p)] = toolRow{current: f[3], end: f[4], lag: f[5]}
	}
	if len(rows) == 0 {
		t.Fatalf("ConsumerGroupCommand printed no rows for %s:\n%s", grp, out)
	}
	return rows
}

// TestOffsetLagMatchesKafkaTool: a real group consumer reads part of three
// partitions, commits and stops; the monitor's committed, end and lag per
// partition equal what Kafka's ConsumerGroupCommand prints for the group.
func TestOffsetLagMatchesKafkaTool(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		pr := producer(t, c.Brokers)
		counts := map[int32]int{0: 40, 1: 25, 2: 7}
		for p, n := range counts {
			produce(t, pr, topic, p, n, nil)
		}
		// A real member of the group commits part of each partition, then leaves.
		cons := client(t, c.Brokers, kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		want := map[int32]int64{0: 13, 1: 25, 2: 2}
		seen := 0
		kafkatest.Eventually(t, 15*time.Second, "consuming every record", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			seen += cons.PollFetches(ctx).NumRecords()
			return seen >= 72
		})
		offs := map[string]map[int32]kgo.EpochOffset{topic: {}}
		for p, o := range want {
			offs[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
		var cerr error
		cons.CommitOffsetsSync(context.Background(), offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) { cerr = err })
		if cerr != nil {
			t.Fatalf("committing: %v", cerr)
		}
		cons.Close()

		m := newMonitor(t, c.Brokers, lag.Config{Groups: "^" + grp + "$"}, nil)
		g := group(t, poll(t, m), grp)
		if len(g.Partitions) != 3 {
			t.Fatalf("monitor sees %d partitions, want 3: %+v", len(g.Partitions), g.Partitions)
		}
		for _, p := range g.Partitions {
			wantLag := int64(counts[p.Partition]) - want[p.Partition]
			if !p.HasCommit || p.Committed != want[p.Partition] || p.End != int64(counts[p.Partition]) || p.Lag != wantLag {
				t.Errorf("partition %d: committed %d (%v), end %d, lag %d; want %d, %d, %d",
					p.Partition, p.Committed, p.HasCommit, p.End, p.Lag, want[p.Partition], counts[p.Partition], wantLag)
			}
		}
		if !c.Real {
			return // the Java tool is compared on the real broker
		}
		rows := describeWithKafkaTool(t, c.Brokers, grp, topic)
		for _, p := range g.Partitions {
			r, ok := rows[p.Partition]
			if !ok {
				t.Errorf("tool has no row for partition %d", p.Partition)
				continue
			}
			got := toolRow{strconv.FormatInt(p.Committed, 10), strconv.FormatInt(p.End, 10), strconv.FormatInt(p.Lag, 10)}
			if got != r {
				t.Errorf("partition %d: monitor %+v, kafka-consumer-groups %+v", p.Partition, got, r)
			}
		}
		t.Logf("partition rows (monitor = kafka tool): %+v", rows)
	})
}

// TestTimeLag: records carry known timestamps in the past; the reported
// time lag is now minus the timestamp of the record at the committed
// offset, within a second, and keeps growing with wall time while nothing
// is produced or consumed. A caught-up partition reports 0, and a commit
// that only has a transaction marker ahead of it reports 0 seconds.
func TestTimeLag(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		pr := producer(t, c.Brokers)
		base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
		produce(t, pr, topic, 0, 10, func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) })
		produce(t, pr, topic, 1, 5, func(int) time.Time { return base })
		// Partition 2: one committed transaction: records 0-2, its marker at 3.
		tx := client(t, c.Brokers, kgo.TransactionalID(kafkatest.Name(t, "txn")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(t, tx, topic, 2, 3, func(int) time.Time { return base })
		if err := tx.EndTransaction(context.Background(), kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		adm := kadm.NewClient(pr)
		commit(t, adm, grp, topic, map[int32]int64{0: 4, 1: 5, 2: 3})

		reg := prometheus.NewRegistry()
		m := newMonitor(t, c.Brokers, lag.Config{Groups: "^" + grp + "$"}, reg)
		check := func(when string) {
			g := group(t, poll(t, m), grp)
			now := time.Now()
			truth := now.Sub(base.Add(4 * time.Second))
			for _, p := range g.Partitions {
				if !p.TimeLagKnown {
					t.Errorf("%s: partition %d: time lag unknown", when, p.Partition)
				}
			}
			p0, p1, p2 := g.Partitions[0], g.Partitions[1], g.Partitions[2]
			if d := p0.TimeLag(now) - truth; d.Abs() > time.Second {
				t.Errorf("%s: partition 0 time lag %s, truth %s", when, p0.TimeLag(now), truth)
			}
			if p1.TimeLag(now) != 0 || p1.Lag != 0 {
				t.Errorf("%s: caught-up partition 1 lags %d records, %s", when, p1.Lag, p1.TimeLag(now))
			}
			if p2.TimeLag(now) != 0 {
				t.Errorf("%s: partition 2 has only a marker ahead but time lag %s (offset lag %d)", when, p2.TimeLag(now), p2.Lag)
			}
			// The exported series agrees, measured at scrape time.
			sec := gathered(t, reg, "kafka_consumergroup_group_lag_seconds", map[string]string{"group": grp, "partition": "0"})
			if math.Abs(sec-time.Since(base.Add(4*time.Second)).Seconds()) > 1 {
				t.Errorf("%s: kafka_consumergroup_group_lag_seconds %.3f, truth %.3f", when, sec, time.Since(base.Add(4*time.Second)).Seconds())
			}
			t.Logf("%s: time lag %.3fs, truth %.3fs; marker-only partition: offset lag %d, time lag %s", when, p0.TimeLag(now).Seconds(), truth.Seconds(), p2.Lag, p2.TimeLag(now))
		}
		check("first poll")
		time.Sleep(2 * time.Second) // producer idle, nobody consuming
		check("2s later, idle")
	})
}

// gathered returns the value of the one series of name whose labels
// include want.
func gathered(t testing.TB, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(found))
	}
	return found[0].GetGauge().GetValue()
}

// has says whether any series of name carries label group=grp.
func has(t testing.TB, g prometheus.Gatherer, name, grp string) bool {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "group" && l.GetValue() == grp {
					return true
				}
			}
		}
	}
	return false
}

// TestStatus drives groups through the situations the evaluator names, with
// a window of 3 polls, and checks the status after each poll.
func TestStatus(t *testing.T) {
	type step struct {
		produce int   // records to add
		commit  int64 // offset to commit; -1 commits nothing
		want    lag.Status
	}
	cases := []struct {
		name  string
		steps []step
	}{
		// No members and no commit since the last poll: STOP at the second
		// poll, not after the window (issue 17).
		{"stopped with lag", []step{{20, 5, lag.OK}, {0, -1, lag.Stop}, {0, -1, lag.Stop}, {5, -1, lag.Stop}}},
		{"slower than the producer", []step{{20, 5, lag.OK}, {20, 10, lag.OK}, {20, 15, lag.Warn}, {20, 20, lag.Warn}}},
		{"caught up", []step{{20, 20, lag.OK}, {10, 30, lag.OK}, {0, -1, lag.OK}, {5, 35, lag.OK}}},
		{"offsets reset backwards", []step{{20, 20, lag.OK}, {0, 3, lag.Rewind}, {0, -1, lag.Rewind}, {0, 20, lag.OK}}},
	}
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		pr := producer(t, c.Brokers)
		adm := kadm.NewClient(pr)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
				kafkatest.CreateTopic(t, c.Brokers, topic, 1)
				reg := prometheus.NewRegistry()
				m := newMonitor(t, c.Brokers, lag.Config{}, reg, grp)
				for i, s := range tc.steps {
					if s.produce > 0 {
						produce(t, pr, topic, 0, s.produce, nil)
					}
					if s.commit >= 0 {
						commit(t, adm, grp, topic, map[int32]int64{0: s.commit})
					}
					g := group(t, poll(t, m), grp)
					if g.Status != s.want {
						t.Fatalf("poll %d: status %s, want %s (partitions %+v)", i+1, g.Status, s.want, g.Partitions)
					}
					if v := gathered(t, reg, "kafka_consumergroup_group_status", map[string]string{"group": grp}); v != float64(s.want) {
						t.Fatalf("poll %d: kafka_consumergroup_group_status %v, want %d", i+1, v, s.want)
					}
				}
			})
		}
	})
}

// TestStallWhileOwned: a live member owns the partition but its committed
// offset does not move while lag exists: STALL, not STOP. When it leaves,
// the same partition is STOP.
func TestStallWhileOwned(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		pr := producer(t, c.Brokers)
		produce(t, pr, topic, 0, 10, nil)
		commit(t, kadm.NewClient(pr), grp, topic, map[int32]int64{0: 2})
		cons := client(t, c.Brokers, kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(), kgo.ClientID("stuck-member"))
		m := newMonitor(t, c.Brokers, lag.Config{}, nil, grp)
		kafkatest.Eventually(t, 15*time.Second, "the member owning the partition", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			cons.PollFetches(ctx)
			g := group(t, poll(t, m), grp)
			return len(g.Partitions) == 1 && g.Partitions[0].Owner == "stuck-member"
		})
		var g lag.Group
		for range 3 {
			g = group(t, poll(t, m), grp)
		}
		if g.Status != lag.Stall || len(g.Members) != 1 || g.Members[0].ClientID != "stuck-member" {
			t.Fatalf("owned, not moving: status %s, members %+v; want STALL with one member", g.Status, g.Members)
		}
		cons.Close()
		kafkatest.Eventually(t, 15*time.Second, "the group to empty", func() bool {
			return len(group(t, poll(t, m), grp).Members) == 0
		})
		if g = group(t, poll(t, m), grp); g.Status != lag.Stop {
			t.Fatalf("after the member left: status %s, want STOP", g.Status)
		}
	})
}

// TestStopWithinOnePoll: with the default window of 10 polls, a group whose
// last member leaves while lag exists is STOP at the first poll that sees
// it empty — not after the window (issue 17: ≈100 s at the defaults).
func TestStopWithinOnePoll(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		pr := producer(t, c.Brokers)
		produce(t, pr, topic, 0, 10, nil)
		commit(t, kadm.NewClient(pr), grp, topic, map[int32]int64{0: 2})
		cons := client(t, c.Brokers, kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(), kgo.ClientID("leaving-member"))
		m := newMonitor(t, c.Brokers, lag.DefaultConfig(), nil, grp)
		kafkatest.Eventually(t, 15*time.Second, "the member owning the partition", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			cons.PollFetches(ctx)
			g := group(t, poll(t, m), grp)
			return len(g.Partitions) == 1 && g.Partitions[0].Owner == "leaving-member"
		})
		if g := group(t, poll(t, m), grp); g.Status == lag.Stop {
			t.Fatalf("owned by a live member: status %s", g.Status)
		}
		cons.Close()
		var g lag.Group
		kafkatest.Eventually(t, 15*time.Second, "the group to empty", func() bool {
			g = group(t, poll(t, m), grp)
			return len(g.Members) == 0
		})
		if g.Status != lag.Stop {
			t.Fatalf("first poll after the last member left: status %s, want STOP (partitions %+v)", g.Status, g.Partitions)
		}
	})
}

// TestTimeLagWarnsAtOnce: a group 30 s behind in time is WARN at the first
// poll when lag.warn_time_lag is 10 s, without a window of history, and OK
// with the rule off (issue 17: the badge stayed OK at 25 s of time lag).
func TestTimeLagWarnsAtOnce(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		pr := producer(t, c.Brokers)
		old := time.Now().Add(-30 * time.Second)
		produce(t, pr, topic, 0, 10, func(int) time.Time { return old })
		commit(t, kadm.NewClient(pr), grp, topic, map[int32]int64{0: 2})
		for _, tc := range []struct {
			warn time.Duration
			want lag.Status
		}{{10 * time.Second, lag.Warn}, {0, lag.OK}} {
			cfg := lag.DefaultConfig()
			cfg.WarnTimeLag = tc.warn
			g := group(t, poll(t, newMonitor(t, c.Brokers, cfg, nil, grp)), grp)
			if g.Status != tc.want || len(g.Partitions) != 1 || !g.Partitions[0].TimeLagKnown {
				t.Fatalf("warn_time_lag %s: status %s, want %s (partitions %+v)", tc.warn, g.Status, tc.want, g.Partitions)
			}
		}
	})
}

// TestSeriesFollowGroups: an empty group keeps its lag series; a deleted
// group's series vanish at the next poll; no gauge is negative.
func TestSeriesFollowGroups(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, prefix := kafkatest.Name(t, "topic"), kafkatest.Name(t, "g")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		pr := producer(t, c.Brokers)
		produce(t, pr, topic, 0, 10, nil)
		produce(t, pr, topic, 1, 10, nil)
		adm := kadm.NewClient(pr)
		keep, gone := prefix+"-keep", prefix+"-gone"
		commit(t, adm, keep, topic, map[int32]int64{0: 3, 1: 10})
		commit(t, adm, gone, topic, map[int32]int64{0: 1})
		reg := prometheus.NewRegistry()
		m := newMonitor(t, c.Brokers, lag.Config{Groups: "^" + prefix}, reg)
		poll(t, m)
		if v := gathered(t, reg, "kafka_consumergroup_group_sum_lag", map[string]string{"group": keep}); v != 7 {
			t.Fatalf("sum lag of %s = %v, want 7", keep, v)
		}
		if v := gathered(t, reg, "kafka_consumergroup_group_lag", map[string]string{"group": gone, "partition": "0"}); v != 9 {
			t.Fatalf("lag of %s = %v, want 9", gone, v)
		}
		if _, err := adm.DeleteGroup(context.Background(), gone); err != nil {
			t.Fatal(err)
		}
		poll(t, m)
		if has(t, reg, "kafka_consumergroup_group_lag", gone) || has(t, reg, "kafka_consumergroup_group_status", gone) {
			t.Fatalf("deleted group %s still has series", gone)
		}
		if !has(t, reg, "kafka_consumergroup_group_lag", keep) {
			t.Fatalf("empty group %s lost its series", keep)
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			for _, s := range mf.Metric {
				if v := s.GetGauge().GetValue(); v < 0 || math.IsNaN(v) {
					t.Errorf("%s has value %v", mf.GetName(), v)
				}
			}
		}
	})
}

// TestTopicErrorIsReported: when the cluster answers a group's topic with
// an error (here LEADER_NOT_AVAILABLE), each of its partitions carries that
// error, naming the topic, rather than a bare "log offsets not listed"
// (defect 14: per-topic errors must be reported, not swallowed).
func TestTopicErrorIsReported(t *testing.T) {
	c := kafkatest.Fake(t)
	topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
	kafkatest.CreateTopic(t, c.ListenAddrs(), topic, 2)
	pr := producer(t, c.ListenAddrs())
	produce(t, pr, topic, 0, 3, nil)
	commit(t, kadm.NewClient(pr), grp, topic, map[int32]int64{0: 1, 1: 0})
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: kerr.LeaderNotAvailable, Count: -1})

	g := group(t, poll(t, newMonitor(t, c.ListenAddrs(), lag.Config{Groups: "^" + grp + "$"}, nil)), grp)
	if len(g.Partitions) != 2 {
		t.Fatalf("partitions %+v", g.Partitions)
	}
	for _, p := range g.Partitions {
		if !strings.Contains(p.Err, topic) || !strings.Contains(p.Err, "LEADER_NOT_AVAILABLE") {
			t.Errorf("partition %d: error %q, want LEADER_NOT_AVAILABLE naming %s", p.Partition, p.Err, topic)
		}
	}
}
