package processor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestLiveWhileShutdownCommitWaits is the regression test for a liveness
// probe that failed during a graceful shutdown: after the poll loop stops,
// the in-flight batches finish (bounded by processor.shutdown_timeout) and
// the final commit waits on the group coordinator (bounded by
// max(shutdown_timeout, 5s)). That wait counted as one poll handled for too
// long, and a stopped partition's abandoned queue as records none took, so
// a coordinator moving near the end of a drain made the terminating member
// report itself wedged. The fake cluster answers OffsetCommit with
// COORDINATOR_LOAD_IN_PROGRESS (franz-go retries it) for three rebalance
// timeouts once the shutdown has begun, with records still queued.
func TestLiveWhileShutdownCommitWaits(t *testing.T) {
	fake := kafkatest.Fake(t)
	brokers := fake.ListenAddrs()
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, brokers, topic, 1)
	const n = 200
	produceTo(t, brokers, topic, 0, n, 10)

	const stall = 3 * time.Second
	var armed atomic.Bool
	var stallFrom atomic.Int64 // unix nanos of the first commit after the stop
	fake.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		if !armed.Load() {
			return nil, nil, false
		}
		now := time.Now().UnixNano()
		stallFrom.CompareAndSwap(0, now)
		if now-stallFrom.Load() > int64(stall) {
			return nil, nil, false
		}
		return commitRefusal(req, kerr.CoordinatorLoadInProgress), nil, true
	})

	group := kafkatest.Name(t, "g")
	cfg := testConfig(group)
	cfg.Group.RebalanceTimeout = time.Second
	// The drain ends at once (the running call returns within 20ms); the
	// commit's bound, max(shutdown_timeout, 5s), is what matters here: ample
	// for franz-go's retries through the stall (backoff 250ms doubling, ±20%).
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.Batch.MaxRecords = 1
	var handled atomic.Int64
	h := processor.HandlerFunc(func(ctx context.Context, b *processor.Batch) error {
		handled.Add(int64(len(b.Records)))
		select { // slow enough that records stay queued at the stop
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := mustNew(t, kcfg(brokers, "shutdown-live"), topic, cfg, h, processor.Options{})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	kafkatest.Eventually(t, 20*time.Second, "records handled", func() bool { return handled.Load() >= 10 })

	armed.Store(true)
	cancel()
	var runErr error
	returned := false
	for !returned {
		select {
		case runErr = <-done:
			returned = true
			continue
		case <-time.After(50 * time.Millisecond):
		}
		if err := p.Live(); err != nil {
			from := stallFrom.Load()
			t.Fatalf("Live during the shutdown's commit (stalled %s so far): %v",
				time.Since(time.Unix(0, from)).Round(time.Millisecond), err)
		}
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		t.Fatalf("Run: %v", runErr)
	}
	from := stallFrom.Load()
	if from == 0 {
		t.Fatal("no commit at the shutdown: the injected fault never happened")
	}
	if d := time.Since(time.Unix(0, from)); d < stall {
		t.Fatalf("Run returned %s into the commit's stall of %s: the test sampled no long wait", d, stall)
	}
	got, _ := committed(t, brokers, group, topic)
	if h := handled.Load(); got[0] < 10 || got[0] > h || h >= n {
		t.Fatalf("committed %d after %d handled of %d: want the finished work committed with records still queued at the stop", got[0], h, n)
	}
}
