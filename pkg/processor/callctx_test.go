package processor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// newTestCallContext returns a callContext on parent that counts overdue
// calls up and down.
func newTestCallContext(parent context.Context) (*callContext, *atomic.Int64) {
	var overdue atomic.Int64
	return newCallContext(parent, func() { overdue.Add(1) }, func() { overdue.Add(-1) }), &overdue
}

// waitDone fails the test with why unless ctx is done within 5 s.
func waitDone(t *testing.T, ctx context.Context, why string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal(why)
	}
}

// TestCallContextReusedWhenUntouched: a call that never looks at its
// context leaves it for the next call, which costs no allocation; the
// deadline moves with each call.
func TestCallContextReusedWhenUntouched(t *testing.T) {
	c, _ := newTestCallContext(context.Background())
	defer c.release()
	c.begin(time.Now(), time.Hour)
	d1, _ := c.Deadline()
	if timedOut, spent := c.end(); timedOut || spent {
		t.Fatalf("untouched call: timedOut %v spent %v, want neither", timedOut, spent)
	}
	time.Sleep(time.Millisecond)
	c.begin(time.Now(), time.Hour)
	if d2, _ := c.Deadline(); !d2.After(d1) {
		t.Errorf("second call's deadline %v not after the first's %v", d2, d1)
	}
	c.end()
	if allocs := testing.AllocsPerRun(100, func() {
		c.begin(time.Now(), time.Hour)
		c.end()
	}); allocs != 0 {
		t.Errorf("a reused call context allocates %v times per call, want 0", allocs)
	}
}

// TestCallContextCancelledAfterUse: a call that used its context sees it
// cancelled once it returns, with contexts derived from it, as with a
// context per call; the context is spent.
func TestCallContextCancelledAfterUse(t *testing.T) {
	for name, use := range map[string]func(ctx context.Context) context.Context{
		"done": func(ctx context.Context) context.Context { _ = ctx.Done(); return ctx },
		"err":  func(ctx context.Context) context.Context { _ = ctx.Err(); return ctx },
		"derived": func(ctx context.Context) context.Context {
			d, cancel := context.WithCancel(ctx)
			_ = cancel // kept on purpose: the test checks the derived context ends with the call
			return d
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := newTestCallContext(context.Background())
			defer c.release()
			c.begin(time.Now(), time.Hour)
			kept := use(c)
			if kept.Err() != nil {
				t.Fatalf("context ended during the call: %v", kept.Err())
			}
			if timedOut, spent := c.end(); timedOut || !spent {
				t.Fatalf("used call: timedOut %v spent %v, want spent only", timedOut, spent)
			}
			waitDone(t, kept, "a context the call used is not cancelled after it returned")
			if !errors.Is(kept.Err(), context.Canceled) {
				t.Errorf("Err after return = %v, want context.Canceled", kept.Err())
			}
		})
	}
}

// TestCallContextDeadline: a call past its deadline sees Done closed with
// DeadlineExceeded (Err and Cause, and on derived contexts), is counted
// overdue until it returns, and reports timedOut.
func TestCallContextDeadline(t *testing.T) {
	c, overdue := newTestCallContext(context.Background())
	defer c.release()
	c.begin(time.Now(), 20*time.Millisecond)
	derived, cancel := context.WithCancel(c)
	defer cancel()
	waitDone(t, c, "deadline passed without Done")
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", err)
	}
	if err := context.Cause(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Cause = %v, want DeadlineExceeded", err)
	}
	<-derived.Done()
	if err := derived.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("derived Err = %v, want DeadlineExceeded", err)
	}
	if got := overdue.Load(); got != 1 {
		t.Errorf("overdue = %d while the call runs past its deadline, want 1", got)
	}
	timedOut, spent := c.end()
	if !timedOut || !spent {
		t.Errorf("overrun call: timedOut %v spent %v, want both", timedOut, spent)
	}
	if got := overdue.Load(); got != 0 {
		t.Errorf("overdue = %d after the call returned, want 0", got)
	}
}

// TestCallContextParentEnds: the lane's context ending (its partition
// taken away) ends the call's, with the lane's error, and is not counted
// as an overrun.
func TestCallContextParentEnds(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	c, overdue := newTestCallContext(parent)
	defer c.release()
	c.begin(time.Now(), time.Hour)
	cancelParent()
	waitDone(t, c, "the lane's context ended without the call's")
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("Err = %v, want Canceled", err)
	}
	if timedOut, spent := c.end(); timedOut || !spent {
		t.Errorf("call on an ended lane: timedOut %v spent %v, want spent only", timedOut, spent)
	}
	if got := overdue.Load(); got != 0 {
		t.Errorf("overdue = %d, want 0", got)
	}
}

// TestCallContextValue: values come from the lane's context.
func TestCallContextValue(t *testing.T) {
	type key struct{}
	c, _ := newTestCallContext(context.WithValue(context.Background(), key{}, "v"))
	defer c.release()
	if got := c.Value(key{}); got != "v" {
		t.Errorf("Value = %v, want the lane context's v", got)
	}
}

// TestCallContextLaterCallKeepsItsDeadline: the timer armed by an earlier
// call fires at that call's deadline while a later call runs; the later
// call's context ends at its own deadline, not the earlier one's.
func TestCallContextLaterCallKeepsItsDeadline(t *testing.T) {
	c, overdue := newTestCallContext(context.Background())
	defer c.release()
	const timeout = 200 * time.Millisecond
	c.begin(time.Now(), timeout)
	c.end()
	time.Sleep(timeout / 2)
	second := time.Now()
	c.begin(second, timeout)
	<-c.Done()
	if early := time.Until(second.Add(timeout)); early > 0 {
		t.Fatalf("the call's context ended %v before its deadline", early)
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) || overdue.Load() != 1 {
		t.Errorf("at the deadline: Err %v, overdue %d; want DeadlineExceeded and 1", c.Err(), overdue.Load())
	}
	if timedOut, _ := c.end(); !timedOut {
		t.Error("end did not report the overrun")
	}
}
