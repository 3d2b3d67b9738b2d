package processor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Batch is a run of consecutive records from one partition, in offset
// order. The engine owns the Batch and its slice and reuses them; a handler
// must not keep either after Handle returns (copy what it needs).
type Batch struct {
	Topic     string
	Partition int32
	Records   []*kgo.Record
}

// Handler processes batches.
//
// Contract:
//   - Handle is called for one partition at a time, never concurrently for
//     the same partition, in offset order; different partitions may be
//     handled concurrently, so Handle must be safe for concurrent use, and
//     a call must not wait for another partition's: a quick partition's
//     small batch may be handled on the poll loop itself, one partition
//     after another (docs/architecture.md, "The poll loop's turn"). With
//     processor.ordering key that holds per key instead (a batch then holds
//     records of several keys, each key's in offset order), and with none
//     it holds for no record: up to processor.concurrency calls run per
//     partition.
//   - A nil error means every record is done: its offset may be committed.
//   - A *RecordErrors error means exactly the records it names failed and
//     the others are done; only the failed ones are retried. One that names
//     no record of the batch (nil, empty, or only out-of-range indexes)
//     means every record is done.
//   - Any other error means the whole batch failed and may be retried as a
//     whole or record by record, so effects of a failed call must be safe to
//     repeat (delivery is at-least-once).
//   - ctx is cancelled when the call exceeds handler.timeout or the
//     partition is taken away; a handler should return promptly then. It
//     is the call's own: once Handle returns, a context it used (or one
//     derived from it) is cancelled, and one it did not look at may serve
//     the partition's next call, so a handler must not keep it. A
//     call past handler.timeout is retried with backoff, never counted as
//     a record failure (a slow downstream is not a poison record), and the
//     next call waits until the overdue one returns.
type Handler interface {
	Handle(ctx context.Context, b *Batch) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, b *Batch) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, b *Batch) error { return f(ctx, b) }

// RecordErrors reports which records of a batch failed, by index into
// Batch.Records; the other records succeeded.
type RecordErrors struct {
	Errs map[int]error
}

// Add records that the record at index i failed with err.
func (e *RecordErrors) Add(i int, err error) {
	if e.Errs == nil {
		e.Errs = map[int]error{}
	}
	e.Errs[i] = err
}

// Err returns e when it names at least one failure, otherwise nil. Handlers
// end with `return errs.Err()`.
func (e *RecordErrors) Err() error {
	if e == nil || len(e.Errs) == 0 {
		return nil
	}
	return e
}

// failures returns the failed records by index; nil for a nil e.
func (e *RecordErrors) failures() map[int]error {
	if e == nil {
		return nil
	}
	return e.Errs
}

func (e *RecordErrors) Error() string {
	if e == nil || len(e.Errs) == 0 {
		return "no records failed"
	}
	idx := make([]int, 0, len(e.Errs))
	for i := range e.Errs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	parts := make([]string, 0, min(len(idx), 3))
	for _, i := range idx[:min(len(idx), 3)] {
		parts = append(parts, fmt.Sprintf("record %d: %v", i, e.Errs[i]))
	}
	more := ""
	if len(idx) > 3 {
		more = fmt.Sprintf(" (and %d more)", len(idx)-3)
	}
	return fmt.Sprintf("%d records failed: %s%s", len(idx), strings.Join(parts, "; "), more)
}
