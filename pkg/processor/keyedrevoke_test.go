package processor_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// callCount counts handler calls per partition and offset, and which
// members handled each partition.
type callCount struct {
	mu    sync.Mutex
	calls map[int32]map[int64]int
	by    map[int32]map[string]bool
	total int
}

func newCallCount() *callCount {
	return &callCount{calls: map[int32]map[int64]int{}, by: map[int32]map[string]bool{}}
}

// handler is member's handler: it counts, then waits pace (when not zero)
// so a backlog stays in the windows while the group changes.
func (c *callCount) handler(member string, pace *atomic.Int64) processor.Handler {
	return processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
		c.mu.Lock()
		if c.calls[b.Partition] == nil {
			c.calls[b.Partition], c.by[b.Partition] = map[int64]int{}, map[string]bool{}
		}
		for _, r := range b.Records {
			c.calls[b.Partition][r.Offset]++
		}
		c.by[b.Partition][member] = true
		c.total += len(b.Records)
		c.mu.Unlock()
		time.Sleep(time.Duration(pace.Load()))
		return nil
	})
}

// handled reports whether every offset below n of parts partitions was
// handled, the duplicates (calls past the first), the first few offsets
// handled more than once, and the partitions both members handled.
func (c *callCount) handled(parts int32, n int64) (all bool, dups int, some []string, moved int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all = true
	for part := range parts {
		for off := range n {
			k := c.calls[part][off]
			if k == 0 {
				all = false
			}
			if k > 1 {
				dups += k - 1
				if len(some) < 5 {
					some = append(some, fmt.Sprintf("%d/%d ×%d", part, off, k))
				}
			}
		}
		if len(c.by[part]) == 2 {
			moved++
		}
	}
	return all, dups, some, moved
}

func (c *callCount) sum() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// TestKeyOrderingGracefulRevokeRedoesNothing: in key ordering, a member
// working through a backlog with full offset windows hands partitions to a
// second member that joins (a graceful revoke within the drain deadline);
// no record is handed to a handler twice. The revoke stops dispatching, the
// sub-lanes handle everything they were dispatched, so the commit is just
// past the last record dispatched. Before, each sub-lane finished only its
// current batch and dropped its queue: the commit stayed at the lowest
// dropped record and the new owner redid every finished record above it.
func TestKeyOrderingGracefulRevokeRedoesNothing(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		const parts, perPart = 4, 4000
		topic := randomKeysTopic(t, c, parts, perPart, 500)
		cfg := keyedConfig(t, 4)
		cfg.Batch.MaxRecords = 5
		cfg.Rebalance.DrainTimeout = 30 * time.Second
		count := newCallCount()
		// Slow while the first member is alone and through the revoke
		// (a full window of 300 records drains in 300/(4×5) calls of
		// 40 ms per sub-lane, well within the drain timeout), fast once
		// the second member owns partitions.
		var pace atomic.Int64
		pace.Store(int64(40 * time.Millisecond))

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		procs := make([]*processor.Processor, 2)
		start := func(i int) {
			member := fmt.Sprintf("member-%d", i)
			procs[i] = mustNew(t, kcfg(c.Brokers, member), topic, cfg, count.handler(member, &pace), processor.Options{})
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = procs[i].Run(ctx) }()
		}
		start(0)
		// Every partition's window full: each has taken max_in_flight
		// records and finished some of them.
		kafkatest.Eventually(t, 60*time.Second, "the first member handling a backlog", func() bool {
			return len(procs[0].Assigned()) == parts && count.sum() >= 2*cfg.MaxInFlight
		})
		start(1)
		kafkatest.Eventually(t, 60*time.Second, "the second member assigned", func() bool {
			return len(procs[1].Assigned()) > 0
		})
		pace.Store(0)
		kafkatest.Eventually(t, 120*time.Second, "every record handled", func() bool {
			all, _, _, _ := count.handled(parts, perPart)
			return all
		})
		cancel()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
		}
		_, dups, some, moved := count.handled(parts, perPart)
		if moved == 0 {
			t.Fatal("no partition moved between the members: nothing was revoked")
		}
		if dups > 0 {
			t.Fatalf("%d records handed to a handler twice after a graceful revoke of %d partitions (e.g. %v); want 0", dups, moved, some)
		}
		t.Logf("%d partitions handed over, no record handled twice", moved)
	})
}
