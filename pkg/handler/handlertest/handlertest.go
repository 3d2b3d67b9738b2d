// Package handlertest checks that a processor.Handler keeps the Handler
// contract written in pkg/processor/handler.go, the way the engine relies
// on it. Every built-in handler runs it (pkg/handler's tests); a user runs
// it against their own handler from a test of their package:
//
//	func TestMyHandlerKeepsTheContract(t *testing.T) {
//		handlertest.Run(t, func(t *testing.T) processor.Handler { return NewMyHandler() })
//	}
//
// Each check gets a fresh handler from the function, as the engine would
// from a fresh process, and calls it directly, without a cluster: the
// suite checks what a handler does with the batches and contexts the
// engine gives it. The checks:
//
//   - Batches: batches of 1, 7 and 100 records, the sizes processor.batch
//     yields, in offset order. Any result is allowed (nil, a
//     *processor.RecordErrors, another error, even a panic, which the
//     engine turns into an error), but a *processor.RecordErrors must name
//     only records of the batch, by index into Batch.Records, each with a
//     non-nil error: the engine treats an index outside the batch as no
//     failure at all, so the record it meant counts as done and is
//     committed, and it writes the error into the dead letter's
//     veltrix-dlq-error header. Every call of every check is held to this.
//   - Redelivery: delivery is at-least-once, so a batch the handler
//     finished (nil) may come again, after a restart or a rebalance, as
//     fresh copies of the same records; it must finish again (nil). A
//     handler that rejects duplicates would halt its partition.
//   - ContextDone: a call whose context is done (already cancelled, or
//     past a deadline like handler.timeout sets) returns promptly, with
//     any result (ReturnWithin, default 5s). The engine waits for a call
//     that does not, holding its partition meanwhile; IgnoresContext skips
//     this check and says why.
//   - BatchOwnership: the engine owns Batch.Records: Handle leaves its
//     records and their order unchanged, and does not keep the slice after
//     it returns. The suite then overwrites the slice, as the engine
//     reuses it for the next batch, so a handler still reading it is
//     reported by the race detector (go test -race).
//   - ConcurrentPartitions: Handle is called concurrently for different
//     partitions, so it must be safe for concurrent use: four partitions
//     at once, several batches each. Unsafe shared state is reported by
//     the race detector.
//
// The engine never hands over an empty batch, so no check does. Check is
// the same suite without a *testing.T: it returns the violations.
package handlertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/processor"
)

// Topic is the topic of the records the suite makes.
const Topic = "handlertest"

// Option changes how the suite calls a handler.
type Option func(*suite)

// WithRecords makes the suite build its batches from records(partition,
// n), n records, instead of its own (a key, a JSON value, a header and the
// current time). Use it when a handler needs a particular payload to
// succeed. The suite sets each record's Partition and Offset, and Topic
// when it is empty, as the engine's records have them.
func WithRecords(records func(partition int32, n int) []*kgo.Record) Option {
	return func(s *suite) { s.records = records }
}

// IgnoresContext skips the ContextDone check, for a handler that does not
// return when its context is done; reason says why, and Run logs it.
func IgnoresContext(reason string) Option {
	return func(s *suite) { s.ignoresCtx = reason }
}

// ReturnWithin sets how soon after its context is done a call must return
// (default 5s).
func ReturnWithin(d time.Duration) Option {
	return func(s *suite) { s.within = d }
}

// suite is the settings of one run.
type suite struct {
	records    func(partition int32, n int) []*kgo.Record
	ignoresCtx string
	within     time.Duration
}

func newSuite(opts []Option) *suite {
	s := &suite{records: defaultRecords, within: 5 * time.Second}
	for _, o := range opts {
		o(s)
	}
	return s
}

// defaultRecords makes n records with a key, a JSON value and a header.
func defaultRecords(partition int32, n int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	now := time.Now()
	for i := range recs {
		recs[i] = &kgo.Record{
			Key:       fmt.Appendf(nil, "key-%d-%d", partition, i),
			Value:     fmt.Appendf(nil, `{"partition":%d,"n":%d}`, partition, i),
			Headers:   []kgo.RecordHeader{{Key: "handlertest", Value: []byte("1")}},
			Timestamp: now,
		}
	}
	return recs
}

// Run runs every check of the suite as a subtest of t, each on a fresh
// handler from newHandler, and reports each violation as a test error.
func Run(t *testing.T, newHandler func(t *testing.T) processor.Handler, opts ...Option) {
	t.Helper()
	s := newSuite(opts)
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.name == checkContextDone && s.ignoresCtx != "" {
				t.Skipf("the handler ignores its context: %s", s.ignoresCtx)
			}
			r := &run{s: s, h: newHandler(t)}
			c.fn(r)
			for _, err := range r.violations {
				t.Error(err)
			}
			if r.calls > 0 && r.succeeded == 0 {
				t.Logf("note: none of the %d calls succeeded, so the check says little; WithRecords can give the handler records it accepts", r.calls)
			}
		})
	}
}

// Check runs every check of the suite, each on a fresh handler from
// newHandler, and returns the violations, each naming its check; none
// when the handler keeps the contract.
func Check(newHandler func() processor.Handler, opts ...Option) []error {
	s := newSuite(opts)
	var out []error
	for _, c := range checks {
		if c.name == checkContextDone && s.ignoresCtx != "" {
			continue
		}
		r := &run{s: s, h: newHandler()}
		c.fn(r)
		for _, err := range r.violations {
			out = append(out, fmt.Errorf("%s: %w", c.name, err))
		}
	}
	return out
}
