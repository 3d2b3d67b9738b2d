package processor

import "time"

// streakRepeatLog is how often a continuing streak logs its count.
const streakRepeatLog = 30 * time.Second

// streak is one recurring error's run of repetitions, so the error is logged
// when it starts, with its count every streakRepeatLog while it goes on, and
// once with the total when it ends: a poll loop or a 1 s commit interval
// would otherwise log an outage at every turn. The zero value is no streak.
// It is not safe for concurrent use.
type streak struct {
	first, last, logged time.Time
	n                   int
}

// hit counts one occurrence at now and reports whether to log it: the first
// of the streak, or the first streakRepeatLog after the last one logged.
func (s *streak) hit(now time.Time) bool {
	s.n++
	s.last = now
	if s.n == 1 {
		s.first, s.logged = now, now
		return true
	}
	if now.Sub(s.logged) >= streakRepeatLog {
		s.logged = now
		return true
	}
	return false
}

// took is how long the streak has lasted, from its first occurrence to its
// latest.
func (s *streak) took() time.Duration { return s.last.Sub(s.first).Round(time.Millisecond) }
