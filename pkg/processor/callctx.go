package processor

import (
	"context"
	"sync"
	"time"
)

// callContext is the context of a lane's handler calls: the lane's context
// with processor.handler.timeout's deadline.
//
// A context per call (context.WithTimeout, and an AfterFunc for the overdue
// warning) was a tenth of a member's CPU at a steady rate, where fetches
// bring a few records and every call is a small batch. So a call that
// never looked at its context (Done, Err, AfterFunc, or a context derived
// from it) and returned before its deadline leaves it unspent, and the
// lane's next call reuses it with a new deadline: a stored time instead of
// four allocations, a timer and two registrations with the lane's context. A call
// that did look at it gets the standard behaviour: the context is
// cancelled when the call returns (what a handler that kept it, or a
// context derived from it, sees), and the lane makes a new one for its
// next call. So does a call that overran, or whose lane was abandoned.
type callContext struct {
	parent context.Context
	timer  *time.Timer
	// unhook removes the parent's cancellation hook.
	unhook func() bool
	// overdue runs, with mu held, when a call is still running at its
	// deadline; late is its undo, run by end.
	overdue, late func()

	mu       sync.Mutex
	deadline time.Time
	done     chan struct{}
	err      error
	running  bool // a call is running
	overran  bool // the running call passed its deadline
	seen     bool // the running call looked at the context
	armed    bool // the timer is set
	after    map[*func()]struct{}
}

func newCallContext(parent context.Context, overdue, late func()) *callContext {
	c := &callContext{parent: parent, overdue: overdue, late: late, done: make(chan struct{})}
	c.timer = time.AfterFunc(time.Hour, c.fire)
	c.timer.Stop()
	c.unhook = context.AfterFunc(parent, func() { c.expire(parent.Err()) })
	return c
}

// begin starts a call at now with the deadline timeout after it. The timer
// is not reset per call: armed, it fires at an earlier call's deadline and
// is armed again for the running call's (fire), so a lane whose calls
// return in time touches it once per timeout, not once per call.
func (c *callContext) begin(now time.Time, timeout time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline, c.running, c.overran, c.seen = now.Add(timeout), true, false, false
	if !c.armed {
		c.armed = true
		c.timer.Reset(timeout)
	}
}

// fire is the timer: the running call's deadline has passed, or it is
// armed again for it, or (no call running) it stays disarmed until the
// next.
func (c *callContext) fire() {
	c.mu.Lock()
	if !c.running || c.err != nil {
		c.armed = false
		c.mu.Unlock()
		return
	}
	if left := time.Until(c.deadline); left > 0 {
		c.timer.Reset(left)
		c.mu.Unlock()
		return
	}
	c.armed = false
	c.expireLocked(context.DeadlineExceeded)
	c.mu.Unlock()
}

// end finishes the call begin started. timedOut reports that it passed its
// deadline; spent that the context can serve no other call (release it).
func (c *callContext) end() (timedOut, spent bool) {
	c.mu.Lock()
	c.running = false
	if c.overran {
		c.late()
	}
	timedOut = c.err == context.DeadlineExceeded
	spent = c.err != nil || c.seen
	if spent {
		c.expireLocked(context.Canceled)
	}
	c.mu.Unlock()
	return timedOut, spent
}

// release stops the timer and the parent's hook of a context no call will
// use again.
func (c *callContext) release() {
	c.timer.Stop()
	c.unhook()
}

// expire ends the context with err (DeadlineExceeded at the deadline, the
// parent's error when it ends, Canceled when a call that looked at it
// returns), once.
func (c *callContext) expire(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(err)
}

// expireLocked is expire with mu held.
func (c *callContext) expireLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	for f := range c.after {
		go (*f)()
	}
	c.after = nil
	if c.running && err == context.DeadlineExceeded && c.parent.Err() == nil {
		c.overran = true
		c.overdue()
	}
}

// Deadline is the running call's deadline.
func (c *callContext) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline, true
}

// Done is closed when the call passes its deadline, when the lane's
// context ends, and when the call returns.
func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	c.seen = true
	c.mu.Unlock()
	return c.done
}

// Err is context.DeadlineExceeded after the deadline, the lane context's
// error after it ends, context.Canceled after the call returned, and nil
// before any of them.
func (c *callContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = true
	return c.err
}

// AfterFunc runs f in its own goroutine once the context is done, like
// context.AfterFunc; contexts derived from this one use it to learn of its
// end without a goroutine each.
func (c *callContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = true
	if c.err != nil {
		go f()
		return func() bool { return false }
	}
	if c.after == nil {
		c.after = map[*func()]struct{}{}
	}
	key := &f
	c.after[key] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.after[key]
		delete(c.after, key)
		return ok
	}
}

// Value is the lane context's value for key, except the key context.Cause
// looks for: without it Cause returns Err, as for any context that is not
// one of the standard library's own.
func (c *callContext) Value(key any) any {
	if key == causeKey {
		return nil
	}
	return c.parent.Value(key)
}

// causeKey is the key context.Cause asks a context's Value for. Passing it
// on to the lane's context would make Cause report the lane context's
// cause (none while it runs) for a call past its deadline.
var causeKey = func() any {
	var probe keyProbe
	_ = context.Cause(&probe)
	return probe.key
}()

// keyProbe is a context that records the key its Value was asked for.
type keyProbe struct {
	context.Context
	key any
}

func (k *keyProbe) Value(key any) any {
	k.key = key
	return nil
}

func (k *keyProbe) Err() error { return nil }
