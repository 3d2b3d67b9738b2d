package processor

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/kafka"
)

// TestLateCompletionOfReleasedPartitionIsDropped is the regression test for
// the Redpanda Connect loss (connect PR #4477): a batch that finishes after
// its partition was released must not record an offset, so no commit for a
// partition this member no longer owns can ever be built.
func TestLateCompletionOfReleasedPartitionIsDropped(t *testing.T) {
	p := newProcessor(kafkaConfigForTest(), "t", Config{Commit: CommitConfig{Mode: "interval"}, Rebalance: RebalanceConfig{DrainTimeout: 10 * time.Millisecond}}, nil, Options{})
	p.mu.Lock()
	l := newLane(p, "t", 3)
	p.lanes[l.key()] = l
	p.mu.Unlock()
	close(l.done) // no goroutine: the lane is driven by hand

	l.complete(&kgo.Record{Partition: 3, Offset: 41})
	if eo, ok := l.uncommitted(); !ok || eo.Offset != 42 {
		t.Fatalf("owned lane: uncommitted = %v %v, want 42", eo, ok)
	}

	p.release([]*lane{l}, 10*time.Millisecond, false)
	if len(p.Assigned()) != 0 {
		t.Fatal("released partition still assigned")
	}
	// The abandoned batch finishes late.
	l.complete(&kgo.Record{Partition: 3, Offset: 99})
	if eo, _ := l.uncommitted(); eo.Offset == 100 {
		t.Fatal("a late completion of a released partition was recorded")
	}
	// And Commit finds nothing to commit.
	p.mu.Lock()
	n := len(p.lanes)
	p.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d lanes after release", n)
	}
}

// TestBackoff checks the retry schedule: doubling, capped, jittered ±20%.
func TestBackoff(t *testing.T) {
	c := RetryConfig{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 40: time.Second} {
		for range 50 {
			got := backoff(c, attempt)
			if got < want*8/10 || got > want*12/10 {
				t.Fatalf("attempt %d: %s outside %s ±20%%", attempt, got, want)
			}
		}
	}
}

func kafkaConfigForTest() kafka.Config { return kafka.Config{} }
