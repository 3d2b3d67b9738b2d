package metrics_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// TestClientHooksMatchKprom: the counters veltrix counts itself
// (clienthooks.go: per batch and per request) export the series kprom
// exports by default — names, labels, help and values — for a client that
// produces and fetches; kprom, on its own registry, is hooked into the same
// client to compare.
//
// franz-go calls the produce hooks on a goroutine of its own once a
// response is handled, so Flush can return before either registry has
// counted a produced byte (CI hit that on a loaded machine). A hook
// registered ahead of both holds them back until the first comparison, so
// the test always meets that order and must wait it out.
func TestClientHooksMatchKprom(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "hooks")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		ours, theirs := prometheus.NewRegistry(), prometheus.NewRegistry()
		held := make(heldHooks)
		release := sync.OnceFunc(func() { close(held) })
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.ClientID("hooks-test"),
			kgo.WithHooks(held),
			metrics.New(ours).ClientHooks(),
			kgo.WithHooks(kprom.NewMetrics("kafka_client", kprom.Registerer(theirs), kprom.WithClientLabel())),
			kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		defer release()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		const n = 3000
		for i := range n {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(strings.Repeat("v", 100+i%50))}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < n; {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("fetched %d of %d: %v", got, n, err)
			}
			got += fs.NumRecords()
		}
		names := []string{"kafka_client_fetch_bytes_total", "kafka_client_produce_bytes_total",
			"kafka_client_write_bytes_total", "kafka_client_read_bytes_total",
			"kafka_client_write_errors_total", "kafka_client_read_errors_total"}
		// The client keeps fetching (a long poll every fetch.max_wait): the
		// two registries are read one after the other, so a request may
		// land between the reads. Compare until a pair of reads agrees.
		var diffs []string
		for deadline := time.Now().Add(20 * time.Second); ; {
			diffs = diffs[:0]
			for _, name := range names {
				want := gathered(t, theirs, name)
				if want == "" && strings.Contains(name, "bytes") {
					diffs = append(diffs, "kprom exported no "+name)
					continue
				}
				if got := gathered(t, ours, name); got != want {
					diffs = append(diffs, fmt.Sprintf("%s:\nveltrix exports\n%s\nkprom exports\n%s", name, got, want))
				}
			}
			release()
			if len(diffs) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		for _, d := range diffs {
			t.Error(d)
		}
	})
}

// heldHooks holds back the produce hooks registered after it until closed.
type heldHooks chan struct{}

func (h heldHooks) OnProduceBatchWritten(kgo.BrokerMetadata, string, int32, kgo.ProduceBatchMetrics) {
	<-h
}

// gathered is reg's family name, without the counters' creation times,
// as text; "" when absent.
func gathered(t *testing.T, reg *prometheus.Registry, name string) string {
	t.Helper()
	var b strings.Builder
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				m.GetCounter().CreatedTimestamp = nil
			}
			b.WriteString(mf.String())
		}
	}
	return b.String()
}
