package handlertest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/veltrix/veltrix/pkg/handler/handlertest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestSuiteFindsViolations runs the suite against handlers that each break
// one rule of the contract, and against handlers that keep it (failing
// records or panicking is allowed): the suite must name exactly the checks
// each breaks.
func TestSuiteFindsViolations(t *testing.T) {
	errBad := errors.New("bad")
	cases := []struct {
		name string
		h    func() processor.Handler
		opts []handlertest.Option
		want []string // the checks that must report, in the suite's order
	}{
		{"keeps the contract", func() processor.Handler {
			return processor.HandlerFunc(func(context.Context, *processor.Batch) error { return nil })
		}, nil, nil},
		{"fails records by index (allowed)", func() processor.Handler {
			return processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
				var errs processor.RecordErrors
				errs.Add(len(b.Records)-1, errBad)
				return errs.Err()
			})
		}, nil, nil},
		{"panics (allowed: the engine counts it as a failed call)", func() processor.Handler {
			return processor.HandlerFunc(func(context.Context, *processor.Batch) error { panic("boom") })
		}, nil, nil},
		{"names a record outside the batch", func() processor.Handler {
			return processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
				var errs processor.RecordErrors
				errs.Add(len(b.Records), errBad) // one past the last
				return errs.Err()
			})
		}, nil, []string{"Batches", "Redelivery", "ContextDone", "BatchOwnership", "ConcurrentPartitions"}},
		{"names a record with a nil error", func() processor.Handler {
			return processor.HandlerFunc(func(context.Context, *processor.Batch) error {
				var errs processor.RecordErrors
				errs.Add(0, nil)
				return errs.Err()
			})
		}, nil, []string{"Batches", "Redelivery", "ContextDone", "BatchOwnership", "ConcurrentPartitions"}},
		{"rejects a redelivered record", func() processor.Handler {
			var mu sync.Mutex
			seen := map[string]bool{}
			return processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
				mu.Lock()
				defer mu.Unlock()
				var errs processor.RecordErrors
				for i, r := range b.Records {
					if seen[string(r.Key)] {
						errs.Add(i, errors.New("duplicate"))
					}
					seen[string(r.Key)] = true
				}
				return errs.Err()
			})
		}, nil, []string{"Redelivery"}},
		{"reorders the batch", func() processor.Handler {
			return processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
				slices.Reverse(b.Records)
				return nil
			})
		}, nil, []string{"BatchOwnership"}},
		{"changes a record's offset", func() processor.Handler {
			return processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
				b.Records[0].Offset++
				return nil
			})
		}, nil, []string{"BatchOwnership"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := handlertest.Check(tc.h, tc.opts...)
			if got := checksOf(errs); !slices.Equal(got, tc.want) {
				t.Fatalf("reported by %v, want %v: %v", got, tc.want, errs)
			}
		})
	}
}

// TestSuiteFindsHandlerIgnoringContext: a handler that does not return
// when its context is done is reported by ContextDone, and not with
// IgnoresContext. (It blocks only on a done context, so the other checks
// can run.)
func TestSuiteFindsHandlerIgnoringContext(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := func() processor.Handler {
		return processor.HandlerFunc(func(ctx context.Context, _ *processor.Batch) error {
			if _, ok := ctx.Deadline(); ctx.Err() == nil && !ok {
				return nil
			}
			<-release // ignores ctx
			return nil
		})
	}
	opt := handlertest.ReturnWithin(50 * time.Millisecond)
	errs := handlertest.Check(h, opt)
	if got := checksOf(errs); !slices.Equal(got, []string{"ContextDone"}) || len(errs) != 2 {
		t.Fatalf("reported by %v, want ContextDone twice (cancelled, deadline): %v", got, errs)
	}
	if errs := handlertest.Check(h, opt, handlertest.IgnoresContext("a test")); len(errs) != 0 {
		t.Fatalf("with IgnoresContext: %v", errs)
	}
}

// checksOf returns the checks that reported, once each, in order.
func checksOf(errs []error) []string {
	var out []string
	for _, err := range errs {
		name, _, _ := strings.Cut(err.Error(), ":")
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}
