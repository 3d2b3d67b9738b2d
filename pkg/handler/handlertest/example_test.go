package handlertest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/veltrix/veltrix/pkg/handler/handlertest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// Counter is a handler of a user's own: it counts each partition's records.
type Counter struct {
	mu sync.Mutex // Handle runs concurrently for different partitions
	n  map[int32]int
}

// Handle counts the batch's records.
func (c *Counter) Handle(_ context.Context, b *processor.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[b.Partition] += len(b.Records)
	return nil
}

// A user checks their handler with Run in a test of their package:
//
//	func TestCounterKeepsTheHandlerContract(t *testing.T) {
//		handlertest.Run(t, func(*testing.T) processor.Handler { return &Counter{n: map[int32]int{}} })
//	}
//
// Check is the same without a *testing.T: it returns the violations.
func Example() {
	errs := handlertest.Check(func() processor.Handler { return &Counter{n: map[int32]int{}} })
	fmt.Println("violations:", len(errs))
	// Output: violations: 0
}

// A handler that means its last record but names one past it: the engine
// would take that for no failure and commit the record as done.
func Example_violation() {
	offByOne := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
		var errs processor.RecordErrors
		errs.Add(len(b.Records), errors.New("invalid payload"))
		return errs.Err()
	})
	errs := handlertest.Check(func() processor.Handler { return offByOne })
	fmt.Println(errs[0])
	// Output: Batches: a *processor.RecordErrors names record 1 of a batch of 1: the engine takes an index outside the batch for no failure, so the record meant counts as done and is committed
}
