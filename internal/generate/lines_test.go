package generate_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// TestLinesStopsOnCancelWhileInputIdle: `veltrix produce --from -` on a
// pipe that stays open and quiet (tail -f, a socket) must end on SIGTERM.
// Run used to block in the read and ignore its context, so one signal
// never stopped it.
func TestLinesStopsOnCancelWhileInputIdle(t *testing.T) {
	topic := kafkatest.Name(t, "lines")
	c := kafkatest.Fake(t, kfake.SeedTopics(1, topic))
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	in, feed := io.Pipe()
	defer func() { _ = feed.Close() }()
	lp := generate.NewLines(cl, topic, generate.Config{}, generate.Options{FlushTimeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		res generate.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := lp.Run(ctx, in)
		done <- result{res, err}
	}()

	// One line goes through, so Run is reading; then the input goes quiet.
	if _, err := feed.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 10*time.Second, "the line to be acknowledged", func() bool {
		return lp.Stats().Snapshot().Acked == 1
	})
	cancel()
	select {
	case r := <-done:
		if r.err != nil || r.res.Acked != 1 {
			t.Fatalf("Run = %+v, %v; want 1 acked and no error", r.res, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending while the input was idle")
	}
}

// TestProducerCountersExistBeforeTheFirstRecord: the produced and
// produce-error counters of the topic are exported at 0 as soon as a
// producer exists, so the first failed write is an increase() and the
// dashboards see an idle producer.
func TestProducerCountersExistBeforeTheFirstRecord(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, topic := range []string{"generated", "lines"} {
		if topic == "generated" {
			generate.NewGenerator(cl, topic, generate.Config{}, generate.Options{Metrics: m})
		} else {
			generate.NewLines(cl, topic, generate.Config{}, generate.Options{Metrics: m})
		}
		for _, name := range []string{"veltrix_produced_records_total", "veltrix_produce_errors_total"} {
			n, err := testutil.GatherAndCount(reg, name)
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			if topic == "lines" {
				want = 2
			}
			if n != want {
				t.Errorf("after a producer for %s: %d series of %s, want %d", topic, n, name, want)
			}
		}
	}
}
