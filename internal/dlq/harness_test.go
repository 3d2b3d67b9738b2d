package dlq_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/event"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
)

// The dead letters these tests inspect and replay are written by the real
// engine (processor.on_failure=dlq) over records its handler fails, never
// made up by the test: what the engine writes is what the tool must read.

// waitFor bounds every wait on the cluster.
const waitFor = 60 * time.Second

// opts are the connection options Inspect and Replay read with.
func opts(c kafkatest.Cluster) []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(c.Brokers...)} }

// produceEvents writes n events with identity headers (so verify can
// follow them) and keys k0…k<keys-1>.
func produceEvents(t *testing.T, c kafkatest.Cluster, topic string, n, keys int) {
	t.Helper()
	cl := kafkatest.Client(t, c.Brokers)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		id := event.ID{Producer: "dlq-test", Seq: uint64(i)}
		r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%keys), Value: event.Value(nil, 80, id)}
		event.Stamp(r, id)
		recs[i] = r
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}

// runProcessor runs the engine on topic with on_failure=dlq and handler h
// until the returned stop is called (or the test ends).
func runProcessor(t *testing.T, c kafkatest.Cluster, topic, dlqTopic string, h processor.Handler) (stop func()) {
	t.Helper()
	cfg := processor.DefaultConfig()
	cfg.Group.ID = kafkatest.Name(t, "g")
	cfg.Group.SessionTimeout = 6 * time.Second
	cfg.Group.HeartbeatInterval = 500 * time.Millisecond
	cfg.Commit.Interval = 100 * time.Millisecond
	cfg.Fetch.MaxWait = 100 * time.Millisecond
	cfg.Retry.MaxAttempts = 2
	cfg.Retry.InitialBackoff = time.Millisecond
	cfg.Retry.MaxBackoff = 5 * time.Millisecond
	cfg.OnFailure = processor.OnFailureDLQ
	cfg.DLQTopic = dlqTopic
	p, err := processor.New(kafka.Config{Brokers: c.Brokers, ClientID: "dlq-test", ConnectTimeout: 10 * time.Second}, topic, cfg, h, processor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("processor: %v", err)
			}
		case <-time.After(waitFor):
			t.Errorf("processor did not stop within %s", waitFor)
		}
	}
	t.Cleanup(stop)
	return stop
}

// records sums topic's end offsets: the records it holds (no retention
// or transactions in these tests).
func records(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// waitRecords waits until topic holds want records; more fails at once.
func waitRecords(t *testing.T, c kafkatest.Cluster, topic string, want int64) {
	t.Helper()
	adm := kafkatest.Admin(t, c.Brokers)
	kafkatest.Eventually(t, waitFor, fmt.Sprintf("%d records in %s", want, topic), func() bool {
		n := records(t, adm, topic)
		if n > want {
			t.Fatalf("%s holds %d records, want %d", topic, n, want)
		}
		return n == want
	})
}

// readAll reads topic from its start to its current end.
func readAll(t *testing.T, c kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	if _, err := verify.ReadTopic(context.Background(), topic, func(r *kgo.Record) { out = append(out, r) }, opts(c)...); err != nil {
		t.Fatal(err)
	}
	return out
}

// client is a metadata client for Inspect and Replay.
func client(t *testing.T, c kafkatest.Cluster) *kgo.Client {
	return kafkatest.Client(t, c.Brokers)
}
