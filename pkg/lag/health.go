package lag

import "time"

// Sample is what one poll saw of one partition of one group: the input of
// the health evaluator.
type Sample struct {
	At time.Time
	// Committed is the group's position: the committed offset, or where the
	// reset policy would start when nothing is committed (HasCommit false).
	Committed int64
	HasCommit bool
	// Lag is the offset lag at At.
	Lag int64
	// Owned says a live group member is assigned the partition.
	Owned bool
	// Err says the offsets could not be read in this poll.
	Err bool
}

// Evaluate returns the health of one partition from its window: the last
// samples, oldest first, at most size of them. It is Burrow's evaluator
// adapted to polled offsets (no commit timestamps), and the rules apply in
// this order:
//
//  1. ERR: the newest sample could not be read.
//  2. REWIND: a committed offset is lower than the one before it anywhere
//     in the window (uncommitted samples are not compared).
//  3. OK: the newest lag is 0.
//  4. OK: fewer than size samples — not enough history to judge trends.
//  5. OK: the lag was 0 in some sample of the window (it caught up within
//     the window; Burrow's first rule).
//  6. STALL or STOP: the committed offset is identical in every sample of
//     the full window and the lag was above 0 in all of them — no progress
//     for (size−1) poll intervals. STALL if a member owns the partition now
//     (it is consuming but not moving: a stuck handler, a poison record),
//     STOP if none does (the group is empty, or the partition unassigned).
//  7. WARN: the committed offset moved (the group is consuming), the lag
//     never decreased from one sample to the next, and the newest lag is
//     above the oldest: the group is falling behind.
//  8. OK otherwise: consuming, and the lag fell at least once.
func Evaluate(window []Sample, size int) Status {
	n := len(window)
	if n == 0 {
		return OK
	}
	last := window[n-1]
	if last.Err {
		return Err
	}
	for i := 1; i < n; i++ {
		a, b := window[i-1], window[i]
		if a.HasCommit && b.HasCommit && !a.Err && !b.Err && b.Committed < a.Committed {
			return Rewind
		}
	}
	if last.Lag == 0 || n < size {
		return OK
	}
	moved, rising := false, true
	for i, s := range window {
		if s.Err {
			return OK // a gap in the history: judge trends only over clean windows
		}
		if s.Lag == 0 {
			return OK
		}
		if i > 0 {
			if s.Committed != window[i-1].Committed {
				moved = true
			}
			if s.Lag < window[i-1].Lag {
				rising = false
			}
		}
	}
	switch {
	case !moved && last.Owned:
		return Stall
	case !moved:
		return Stop
	case rising && last.Lag > window[0].Lag:
		return Warn
	}
	return OK
}

// history keeps the window of samples of every partition the monitor has
// seen in the latest poll. It is used by one goroutine at a time.
type history struct {
	size    int
	windows map[partKey][]Sample
}

// partKey names one partition of one group.
type partKey struct {
	group, topic string
	partition    int32
}

func newHistory(size int) *history {
	return &history{size: size, windows: map[partKey][]Sample{}}
}

// add appends s to k's window, dropping the oldest sample beyond size, and
// returns the window's status.
func (h *history) add(k partKey, s Sample) Status {
	w := append(h.windows[k], s)
	if len(w) > h.size {
		w = append(w[:0], w[len(w)-h.size:]...)
	}
	h.windows[k] = w
	return Evaluate(w, h.size)
}

// keep forgets every partition not in seen, so deleted groups and topics
// do not hold memory or come back with stale history.
func (h *history) keep(seen map[partKey]bool) {
	for k := range h.windows {
		if !seen[k] {
			delete(h.windows, k)
		}
	}
}
