package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// TestForwardBacklogOlderThanDeliveryTimeout forwards a backlog whose
// records are hours older than producer.delivery_timeout, as after a long
// consumer outage, through the pipeline Connect builds (as process and demo run it): every record must
// reach the output topic with its source timestamp. franz-go counts its
// record delivery timeout from the record's timestamp, so a forward client
// with that timeout set failed every such record before sending it.
func TestForwardBacklogOlderThanDeliveryTimeout(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		const n = 300
		in, out := kafkatest.Name(t, "in"), kafkatest.Name(t, "out")
		kafkatest.CreateTopic(t, c.Brokers, in, 3)

		// The backlog: event times three hours ago, one millisecond apart.
		base := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
		want := map[string]time.Time{}
		var recs []*kgo.Record
		for i := range n {
			v := fmt.Sprintf("event-%d", i)
			ts := base.Add(time.Duration(i) * time.Millisecond)
			want[v] = ts
			recs = append(recs, &kgo.Record{Topic: in, Key: []byte(fmt.Sprint("k", i%7)), Value: []byte(v), Timestamp: ts})
		}
		pcl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer pcl.Close()
		if err := pcl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatalf("producing the backlog: %v", err)
		}

		cfg := config.Default()
		cfg.Kafka.Brokers = c.Brokers
		cfg.Topic.Name = in
		cfg.Handler.Name, cfg.Handler.OutputTopic = "forward", out
		cfg.Producer.DeliveryTimeout = time.Second
		quickGroup(t, &cfg)
		cfg.Processor.Retry.InitialBackoff = time.Millisecond
		cfg.Processor.Retry.MaxBackoff = 10 * time.Millisecond
		runProcessor(t, cfg, Options{Metrics: metrics.New(metrics.NewRegistry())})

		adm := kafkatest.Admin(t, c.Brokers)
		kafkatest.Eventually(t, 45*time.Second, "the whole backlog forwarded", func() bool {
			total, ok := endTotals(adm, out)
			return ok && total[out] >= n
		})

		rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer rcancel()
		got := map[string]time.Time{}
		if _, err := verify.ReadTopic(rctx, out, func(r *kgo.Record) { got[string(r.Value)] = r.Timestamp }, kgo.SeedBrokers(c.Brokers...)); err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("output holds %d distinct records, want %d", len(got), n)
		}
		for v, ts := range want {
			if !got[v].Equal(ts) {
				t.Fatalf("%s: output timestamp %v, want the source's %v", v, got[v], ts)
			}
		}
	})
}
