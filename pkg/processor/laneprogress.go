package processor

import (
	"fmt"
	"time"
)

// progress is what Live knows of a lane's movement, guarded by the lane's
// mu. A lane makes progress when it takes a batch and when a handler call
// starts or returns; work that arrives at an idle lane starts its clock.
type progress struct {
	at   time.Time // the latest progress, or when work reached an idle lane
	call time.Time // when the running handler call started; zero when none runs
	// waiting is set while the lane waits on purpose: a retry backoff, or a
	// dead letter the cluster has not acknowledged yet (an outage is
	// readiness's business, not liveness's).
	waiting bool
	// calls and waits count the sub-lanes calling and waiting on purpose
	// (key and none ordering report to their partition's lane): call is
	// zero and waiting false only when none is. Partition ordering counts
	// to one.
	calls, waits int
}

// callStarted records that a handler call starts now.
func (l *lane) callStarted(now time.Time) {
	if l.parent != nil {
		l = l.parent
	}
	l.mu.Lock()
	l.progress.at = now
	if l.progress.calls++; l.progress.calls == 1 {
		l.progress.call = now
	}
	l.mu.Unlock()
}

// callReturned records that the running handler call returned at now,
// after d, with or without an error (ok), and counts it for the poll loop's
// turns (inline.go).
func (l *lane) callReturned(now time.Time, d time.Duration, ok bool) {
	if l.parent != nil {
		l = l.parent
	}
	l.mu.Lock()
	l.quickCall(d, ok)
	l.progress.at = now
	if l.progress.calls--; l.progress.calls == 0 {
		l.progress.call = time.Time{}
	}
	l.mu.Unlock()
}

// waitOnPurpose marks the lane waiting on purpose (on true) and the end of
// the wait (on false), which counts as progress.
func (l *lane) waitOnPurpose(on bool) {
	if l.parent != nil {
		l = l.parent
	}
	l.mu.Lock()
	if on {
		l.progress.waits++
	} else {
		l.progress.waits--
		l.progress.at = time.Now()
	}
	l.progress.waiting = l.progress.waits > 0
	l.mu.Unlock()
}

// stuck returns how long the lane has had work without progress, counted
// from no earlier than from, and what it is stuck on; 0 when it has no
// work, waits on purpose, or is halted or released. A stopped lane (being
// released: a revoke or the shutdown) is judged by its running handler call
// alone: it takes no more records by design, and its queue is left to the
// partition's next owner.
func (l *lane) stuck(now, from time.Time) (time.Duration, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	queued := len(l.queue) - l.head
	pr := l.progress
	if l.halted || l.gone || pr.waiting || (queued == 0 || l.stopped()) && pr.call.IsZero() {
		return 0, ""
	}
	d := now.Sub(later(pr.at, from))
	if !pr.call.IsZero() {
		return d, fmt.Sprintf("a handler call has been running for %s (%d records queued behind it)",
			now.Sub(pr.call).Round(100*time.Millisecond), queued)
	}
	return d, fmt.Sprintf("%d records queued and none taken", queued)
}
