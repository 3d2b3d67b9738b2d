package lag_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/lag"
)

// txn writes n records to one partition in one transaction of tx, stamped
// at, and commits it (or aborts it when abort is set).
func txn(t testing.TB, tx *kgo.Client, topic string, partition int32, n int, at time.Time, abort bool) {
	t.Helper()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatalf("beginning a transaction: %v", err)
	}
	produce(t, tx, topic, partition, n, func(int) time.Time { return at })
	end := kgo.TryCommit
	if abort {
		end = kgo.TryAbort
	}
	if err := tx.EndTransaction(context.Background(), end); err != nil {
		t.Fatalf("ending a transaction: %v", err)
	}
}

// fetchCounter counts the Fetch requests a client writes.
type fetchCounter struct{ n atomic.Int64 }

func (f *fetchCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	if key == kmsg.Fetch.Int16() {
		f.n.Add(1)
	}
}

// waitEnds waits until the last stable offsets of topic are want: the
// transaction markers are written after EndTransaction returns.
func waitEnds(t testing.TB, adm *kadm.Client, topic string, want map[int32]int64) {
	t.Helper()
	kafkatest.Eventually(t, 15*time.Second, "the transaction markers", func() bool {
		ends, err := adm.ListCommittedOffsets(context.Background(), topic)
		if err != nil {
			return false
		}
		for p, o := range want {
			if e, ok := ends.Lookup(topic, p); !ok || e.Err != nil || e.Offset != o {
				return false
			}
		}
		return true
	})
}

// TestLagTransactionalTopicIdleGroupIsZero (issue 10, defect 7): a group
// that read every committed record of a transactional topic commits the
// offset after the last data record, which sits before the commit marker
// (or before an aborted transaction and its marker). Nothing is left for
// it to read, so its offset lag and time lag are 0 and it stays OK however
// many polls pass, rather than lag 1 and a false STALL/STOP. A partition
// with a committed record ahead still lags, and a new transaction after
// the idle polls shows up as lag at once.
func TestLagTransactionalTopicIdleGroupIsZero(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		tx := client(t, c.Brokers, kgo.TransactionalID(kafkatest.Name(t, "txn")),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
		old := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		// Partition 0: committed 0-2, marker 3; aborted 4-5, marker 6;
		// committed 7-8, marker 9. End 10; the group read through 8.
		txn(t, tx, topic, 0, 3, old, false)
		txn(t, tx, topic, 0, 2, old, true)
		txn(t, tx, topic, 0, 2, old, false)
		// Partition 1: committed 0-2, marker 3; aborted 4-5, marker 6. End
		// 7; the group read through 2: only a marker and aborted records
		// are ahead of its commit.
		txn(t, tx, topic, 1, 3, old, false)
		txn(t, tx, topic, 1, 2, old, true)
		// Partition 2: committed 0-2, marker 3; committed 4-5, marker 6.
		// End 7; the group read through 2: records 4-5 are still ahead.
		txn(t, tx, topic, 2, 3, old, false)
		txn(t, tx, topic, 2, 2, old, false)
		adm := kadm.NewClient(tx)
		waitEnds(t, adm, topic, map[int32]int64{0: 10, 1: 7, 2: 7})
		commit(t, adm, grp, topic, map[int32]int64{0: 9, 1: 3, 2: 3})

		reg := prometheus.NewRegistry()
		const window = 3
		var fetches fetchCounter
		m, err := lag.New(client(t, c.Brokers, kgo.WithHooks(&fetches)),
			lag.Config{Groups: "^" + grp + "$", Window: window, Interval: time.Second, Reset: "earliest", Cluster: "test"},
			lag.Options{Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		for i := range window + 2 {
			before := fetches.n.Load()
			g := group(t, poll(t, m), grp)
			// Only the first poll reads the log: what lies ahead of an
			// unmoved commit is cached while the end does not move.
			if n := fetches.n.Load() - before; i > 0 && n != 0 {
				t.Errorf("poll %d: %d Fetch requests with nothing moved, want 0", i+1, n)
			}
			now := time.Now()
			if len(g.Partitions) != 3 {
				t.Fatalf("poll %d: %d partitions, want 3: %+v", i+1, len(g.Partitions), g.Partitions)
			}
			for _, p := range g.Partitions[:2] {
				if p.Lag != 0 || p.TimeLag(now) != 0 || !p.TimeLagKnown || p.Status != lag.OK {
					t.Errorf("poll %d: partition %d (committed %d, end %d): lag %d, time lag %s (known %v), status %s; want 0, 0s, OK",
						i+1, p.Partition, p.Committed, p.End, p.Lag, p.TimeLag(now), p.TimeLagKnown, p.Status)
				}
				labels := map[string]string{"group": grp, "partition": strconv.Itoa(int(p.Partition))}
				if v := gathered(t, reg, "kafka_consumergroup_group_lag", labels); v != 0 {
					t.Errorf("poll %d: kafka_consumergroup_group_lag%v = %v, want 0", i+1, labels, v)
				}
				if v := gathered(t, reg, "kafka_consumergroup_group_lag_seconds", labels); v != 0 {
					t.Errorf("poll %d: kafka_consumergroup_group_lag_seconds%v = %v, want 0", i+1, labels, v)
				}
			}
			p2 := g.Partitions[2]
			if p2.Lag != 4 || p2.TimeLag(now) < 59*time.Minute {
				t.Errorf("poll %d: partition 2 has records 4-5 ahead: lag %d, time lag %s; want 4, about 1h", i+1, p2.Lag, p2.TimeLag(now))
			}
		}
		if g := group(t, poll(t, m), grp); g.Partitions[2].Status != lag.Stop || g.Partitions[0].Status != lag.OK || g.Partitions[1].Status != lag.OK {
			t.Errorf("after %d idle polls: statuses %s %s %s; want OK OK STOP", window+3,
				g.Partitions[0].Status, g.Partitions[1].Status, g.Partitions[2].Status)
		}

		// A new committed record on partition 0 (10, marker 11) is lag again,
		// not hidden by what the earlier polls found; a new aborted
		// transaction on partition 1 (7-8, marker 9) is not.
		txn(t, tx, topic, 0, 1, old, false)
		txn(t, tx, topic, 1, 2, old, true)
		waitEnds(t, adm, topic, map[int32]int64{0: 12, 1: 10})
		g := group(t, poll(t, m), grp)
		p0, p1 := g.Partitions[0], g.Partitions[1]
		if p0.Lag != 3 || p0.TimeLag(time.Now()) < 59*time.Minute {
			t.Errorf("after a new transaction: partition 0 lag %d, time lag %s; want 3 (record 10 and two markers), about 1h",
				p0.Lag, p0.TimeLag(time.Now()))
		}
		if p1.Lag != 0 || p1.TimeLag(time.Now()) != 0 || !p1.TimeLagKnown || p1.End != 10 {
			t.Errorf("after an aborted transaction: partition 1 (end %d) lag %d, time lag %s (known %v); want end 10, 0, 0s",
				p1.End, p1.Lag, p1.TimeLag(time.Now()), p1.TimeLagKnown)
		}
	})
}
