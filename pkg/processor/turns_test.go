package processor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestPollLoopTakesTurnsAtATrickle: records arriving one at a time reach
// quick partitions through the poll loop's own calls
// (veltrix_poll_loop_batches_total grows) and every record is still
// handled once, in order, with one call per partition at a time, whichever
// goroutine makes it.
func TestPollLoopTakesTurnsAtATrickle(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		var mu sync.Mutex
		next := map[int32]int64{}
		calling := map[int32]bool{}
		var problems []string
		handled := 0
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			mu.Lock()
			if calling[b.Partition] {
				problems = append(problems, fmt.Sprintf("two calls at once on partition %d", b.Partition))
			}
			calling[b.Partition] = true
			for _, r := range b.Records {
				if r.Offset != next[b.Partition] {
					problems = append(problems, fmt.Sprintf("partition %d: offset %d handled, want %d", b.Partition, r.Offset, next[b.Partition]))
				}
				next[b.Partition] = r.Offset + 1
			}
			handled += len(b.Records)
			mu.Unlock()
			mu.Lock()
			calling[b.Partition] = false
			mu.Unlock()
			return nil
		})
		reg := prometheus.NewRegistry()
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, testConfig(kafkatest.Name(t, "g")), h, processor.Options{Metrics: metrics.New(reg)})
		stop := start(t, p, 10*time.Second)

		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		produced := 0
		trickle := func() {
			for part := range int32(2) {
				r := &kgo.Record{Topic: topic, Partition: part, Value: []byte("v")}
				if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
					t.Fatal(err)
				}
				produced++
			}
		}
		// One record to each partition at a time, each acknowledged before
		// the next, until the poll loop has handled some itself; then more,
		// for turns and wakes to mix.
		kafkatest.Eventually(t, 60*time.Second, "a batch handled by the poll loop", func() bool {
			trickle()
			return counter(t, reg, "veltrix_poll_loop_batches_total") > 0
		})
		for range 50 {
			trickle()
		}
		kafkatest.Eventually(t, 30*time.Second, "every record handled", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return handled >= produced
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(problems) > 0 {
			t.Fatalf("%d problems, the first: %s", len(problems), problems[0])
		}
		if handled != produced {
			t.Fatalf("%d records handled, %d produced", handled, produced)
		}
		t.Logf("%d records, %v of their batches handled by the poll loop", produced, counter(t, reg, "veltrix_poll_loop_batches_total"))
	})
}
