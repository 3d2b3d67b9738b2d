package lag_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/lag"
)

// TestLagUnstableRecordsOfOpenTransaction: records of a transaction still
// open lie above the last stable offset; the monitor reports them per
// partition (Partition.Unstable, kafka_partition_unstable_records), so a
// hung transaction that pins the last stable offset is seen, and they
// vanish once it commits.
func TestLagUnstableRecordsOfOpenTransaction(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		tx := client(t, c.Brokers, kgo.TransactionalID(kafkatest.Name(t, "txn")), kgo.ProducerLinger(0))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		txn(t, tx, topic, 0, 2, time.Now(), false) // 0-1, marker 2
		commit(t, kadm.NewClient(tx), grp, topic, map[int32]int64{0: 2})
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := tx.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte{byte(i)}}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		reg := prometheus.NewRegistry()
		m, err := lag.New(client(t, c.Brokers), lag.Config{Groups: "^" + grp + "$", Window: 3, Interval: time.Second, Reset: "earliest", Cluster: "test"},
			lag.Options{Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		labels := map[string]string{"topic": topic, "partition": "0"}
		p := group(t, poll(t, m), grp).Partitions[0]
		if p.End != 3 || p.Unstable != 3 || p.Lag != 0 {
			t.Errorf("open transaction of 3 records after offset 2: last stable offset %d, unstable %d, lag %d; want 3, 3, 0", p.End, p.Unstable, p.Lag)
		}
		if v := gathered(t, reg, "kafka_partition_unstable_records", labels); v != 3 {
			t.Errorf("kafka_partition_unstable_records = %v, want 3", v)
		}
		if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		waitEnds(t, kadm.NewClient(tx), topic, map[int32]int64{0: 7})
		p = group(t, poll(t, m), grp).Partitions[0]
		if p.Unstable != 0 || p.Lag != 5 {
			t.Errorf("after the commit: unstable %d, lag %d; want 0, 5", p.Unstable, p.Lag)
		}
		if v := gathered(t, reg, "kafka_partition_unstable_records", labels); v != 0 {
			t.Errorf("kafka_partition_unstable_records after the commit = %v, want 0", v)
		}
	})
}
