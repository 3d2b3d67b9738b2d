package processor_test

import (
	"context"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// awaitReady waits for p to have joined its group and received its first
// assignment, failing the test after limit.
func awaitReady(t *testing.T, p *processor.Processor, limit time.Duration) {
	t.Helper()
	select {
	case <-p.Readied():
	case <-time.After(limit):
		t.Fatalf("the processor was not ready within %s", limit)
	}
}

// TestReadied checks that Readied is closed exactly when Ready turns true:
// not before Run, and once the first assignment arrived.
func TestReadied(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		h := processor.HandlerFunc(func(context.Context, *processor.Batch) error { return nil })
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, testConfig(kafkatest.Name(t, "g")), h, processor.Options{})
		select {
		case <-p.Readied():
			t.Fatal("Readied closed before Run")
		default:
		}
		stop := start(t, p, 30*time.Second)
		awaitReady(t, p, 60*time.Second)
		if !p.Ready() {
			t.Fatal("Readied closed but Ready is false")
		}
		if len(p.Assigned()) != 2 {
			t.Errorf("ready with partitions %v, want both", p.Assigned())
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		<-p.Readied() // stays closed after Run
	})
}

// TestStopRightAfterReadied: franz-go joins the group as soon as the client
// exists, so the first assignment (and Readied) can come while Run still
// waits for the cluster to answer its ping. A stop then is a clean stop:
// Run returned context.Canceled from the connect instead (seen in CI).
func TestStopRightAfterReadied(t *testing.T) {
	fake := kafkatest.Fake(t)
	brokers := fake.ListenAddrs()
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, brokers, topic, 1)
	h := processor.HandlerFunc(func(context.Context, *processor.Batch) error { return nil })
	for i := range 30 {
		p := mustNew(t, kcfg(brokers, "solo"), topic, testConfig(kafkatest.Name(t, "g")), h, processor.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- p.Run(ctx) }()
		awaitReady(t, p, 30*time.Second)
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("run %d: stopped right after Readied: %v, want nil (a clean stop)", i, err)
		}
	}
}
