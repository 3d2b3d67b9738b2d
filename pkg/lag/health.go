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
	// TimeLag is the time lag at At: 0 when caught up or not known.
	TimeLag time.Duration
	// Owned says a live group member is assigned the partition.
	Owned bool
	// Empty says the group was described and has no members at all: nobody
	// is consuming it. False when the members are unknown.
	Empty bool
	// Err says the offsets could not be read in this poll.
	Err bool
}

// Rules are the evaluator's settings.
type Rules struct {
	// Window is how many samples the trend rules need.
	Window int
	// WarnTimeLag makes a partition whose time lag exceeds it WARN at once,
	// whatever its trend; 0 turns the rule off.
	WarnTimeLag time.Duration
}

// Evaluate returns the health of one partition from its window: the last
// samples, oldest first, at most r.Window of them. It judges from what is
// known now as well as from the trend over the window — a stopped group is
// STOP within one poll, not after a window — and the rules apply in this
// order:
//
//  1. ERR: the newest sample could not be read.
//  2. REWIND: a committed offset is lower than the one before it anywhere
//     in the window (uncommitted samples are not compared).
//  3. OK: the newest lag is 0.
//  4. STOP at once: the newest lag is above 0, the group has no members
//     (Empty), there are at least two samples, and the committed offset did
//     not move between any two samples in which the group was empty. A group
//     that commits without members (Flink's KafkaSource, assign-and-commit
//     tools) shows a move while empty and is judged by the rules below.
//  5. The trend over a full window (fewer than r.Window samples, or a
//     window with an unreadable sample, is OK for the trend):
//     a. OK: the lag was 0 in some sample of the window (it caught up
//     within the window; Burrow's first rule).
//     b. STALL or STOP: the committed offset is identical in every sample
//     and the lag was above 0 in all of them — no progress for
//     (r.Window−1) polls. STALL if a member owns the partition now (it is
//     consuming but not moving: a stuck handler, a poison record), STOP if
//     none does.
//     c. WARN: the committed offset moved (the group is consuming), the lag
//     never decreased from one sample to the next, and the newest lag is
//     above the oldest: the group is falling behind.
//     d. OK otherwise: consuming, and the lag fell at least once.
//  6. WARN at once: a trend of OK is raised to WARN when the newest time
//     lag exceeds r.WarnTimeLag — the group is that far behind now.
func Evaluate(window []Sample, r Rules) Status {
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
	if last.Lag == 0 {
		return OK
	}
	if stoppedNow(window) {
		return Stop
	}
	s := trend(window, r.Window)
	if s == OK && r.WarnTimeLag > 0 && last.TimeLag > r.WarnTimeLag {
		return Warn
	}
	return s
}

// stoppedNow is rule 4: the group has no members now, and no commit moved
// while it had none. The first sample alone cannot tell a stopped group
// from one that commits without joining, so it takes two; a group that had
// members in the sample before and has none now has just stopped.
func stoppedNow(window []Sample) bool {
	n := len(window)
	if n < 2 || !window[n-1].Empty {
		return false
	}
	for i := 1; i < n; i++ {
		a, b := window[i-1], window[i]
		if a.Empty && b.Empty && !a.Err && !b.Err && a.Committed != b.Committed {
			return false
		}
	}
	return true
}

// trend is rule 5: the verdict of a full, clean window.
func trend(window []Sample, size int) Status {
	n := len(window)
	if n < size {
		return OK
	}
	last := window[n-1]
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
	rules   Rules
	windows map[partKey][]Sample
}

// partKey names one partition of one group.
type partKey struct {
	group, topic string
	partition    int32
}

func newHistory(r Rules) *history {
	return &history{rules: r, windows: map[partKey][]Sample{}}
}

// add appends s to k's window, dropping the oldest sample beyond the
// window, and returns the window's status.
func (h *history) add(k partKey, s Sample) Status {
	w := append(h.windows[k], s)
	if len(w) > h.rules.Window {
		w = append(w[:0], w[len(w)-h.rules.Window:]...)
	}
	h.windows[k] = w
	return Evaluate(w, h.rules)
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
