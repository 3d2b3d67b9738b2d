package processor

import (
	"sync"
	"sync/atomic"
)

// Readied returns a channel that is closed once the processor has
// connected and received its first assignment (possibly empty): the moment
// Ready turns true. It stays closed; it is safe to call at any time, also
// before Run, from any goroutine. Tests and callers wait on it instead of
// polling Ready.
func (p *Processor) Readied() <-chan struct{} { return p.ready.wait() }

// readiness is Ready's state: a flag for the cheap check and a channel to
// wait on. Its zero value is not ready, so New need not make it.
type readiness struct {
	ok   atomic.Bool
	mu   sync.Mutex
	done chan struct{} // made by the first wait or set, closed by set
}

// Load reports whether the processor is ready.
func (r *readiness) Load() bool { return r.ok.Load() }

// set marks the processor ready; calls after the first do nothing.
func (r *readiness) set() {
	if r.ok.Swap(true) {
		return
	}
	close(r.wait())
}

// wait returns the channel set closes.
func (r *readiness) wait() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		r.done = make(chan struct{})
	}
	return r.done
}
