package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrTopicGone is returned by Run when the input topic stayed unreadable
// (UNKNOWN_TOPIC_ID or UNKNOWN_TOPIC_OR_PARTITION on every fetch) for longer
// than processor.group.rebalance_timeout: it was deleted, or deleted and
// recreated, for instance by a broker restarted without its data. The
// client never adopts a recreated topic's new ID (it cannot tell the new
// topic's offsets from the old one's), so only a new process reads it.
var ErrTopicGone = errors.New("the input topic was deleted or recreated")

// Bounds of the poll loop's reaction to fetch errors.
const (
	// fetchBackoffMin and fetchBackoffMax bound the pause after a poll that
	// returned only errors: a broker answers an unreadable partition at
	// once, so polling again at once would spin the client and the log.
	fetchBackoffMin = 100 * time.Millisecond
	fetchBackoffMax = 2 * time.Second
	// fetchErrQuiet ends an error streak that has not recurred for this
	// long (the partition may be idle, so no records say it recovered).
	fetchErrQuiet = 10 * time.Second
)

// fetchErrors turns each poll's fetch errors into bounded logging, a
// backoff for the poll loop, and the decision that the topic is gone. Only
// the poll loop uses it, so it needs no lock.
type fetchErrors struct {
	log       *slog.Logger
	topic     string
	goneAfter time.Duration

	streaks map[fetchErrKey]*streak
	backoff time.Duration
	// unreadableSince is when the current run of unknown-topic errors
	// began, zero when there is none; lastUnreadable is its latest error,
	// lastUnreadableErr that error's text.
	unreadableSince, lastUnreadable time.Time
	lastUnreadableErr               string
}

// fetchErrKey identifies a repeated error: the same text on one partition
// (-1 for the whole topic).
type fetchErrKey struct {
	part int32
	text string
}

func newFetchErrors(log *slog.Logger, topic string, goneAfter time.Duration) *fetchErrors {
	return &fetchErrors{log: log, topic: topic, goneAfter: goneAfter, streaks: map[fetchErrKey]*streak{}}
}

// observe takes one poll's errors (partition and error, in order) and the
// partitions that returned records, at time now. It logs a new error once,
// a continuing one every streakRepeatLog with its count, and the end of a
// streak with its total. It returns how long the poll loop should wait
// before polling again (0: at once), and ErrTopicGone, wrapped with what to
// do, once the topic has been unreadable for longer than goneAfter.
func (f *fetchErrors) observe(now time.Time, errs []partError, withRecords map[int32]bool) (time.Duration, error) {
	for _, e := range errs {
		k := fetchErrKey{e.part, e.err.Error()}
		s, ok := f.streaks[k]
		if !ok {
			s = &streak{}
			f.streaks[k] = s
		}
		switch {
		case !s.hit(now):
		case s.n == 1:
			f.log.Warn("fetch error; repeats of it are counted, not logged, until it stops", "partition", e.part, "err", e.err)
		default:
			f.log.Warn("fetch error still repeating", "partition", e.part, "err", e.err, "times", s.n, "since", s.took())
		}
		if unknownTopic(e.err) {
			if f.unreadableSince.IsZero() || now.Sub(f.lastUnreadable) > fetchErrQuiet {
				f.unreadableSince = now
			}
			f.lastUnreadable, f.lastUnreadableErr = now, fmt.Sprintf("partition %d: %v", e.part, e.err)
		}
	}
	if len(withRecords) > 0 {
		f.unreadableSince = time.Time{}
	}
	for k, s := range f.streaks {
		recovered := withRecords[k.part] || k.part < 0 && len(withRecords) > 0
		if recovered || now.Sub(s.last) > fetchErrQuiet {
			how := "fetching recovered"
			if !recovered {
				how = "fetch error stopped recurring"
			}
			f.log.Info(how, "partition", k.part, "err", k.text, "times", s.n, "for", s.took())
			delete(f.streaks, k)
		}
	}

	switch {
	case len(errs) == 0 || len(withRecords) > 0:
		f.backoff = 0
	case f.backoff == 0:
		f.backoff = fetchBackoffMin
	default:
		f.backoff = min(2*f.backoff, fetchBackoffMax)
	}

	if !f.unreadableSince.IsZero() && now.Sub(f.lastUnreadable) <= fetchErrQuiet &&
		now.Sub(f.unreadableSince) >= f.goneAfter {
		return f.backoff, fmt.Errorf("%w: topic %s has answered only unknown topic or topic id errors for %s "+
			"(processor.group.rebalance_timeout %s); if a broker lost its data or the topic was recreated, the records "+
			"of the old topic are gone and its committed offsets mean nothing for the new one: check what was lost, "+
			"then restart this process to consume the topic as it exists now (from the group's committed offsets, "+
			"else processor.start_offset)",
			ErrTopicGone, f.topic, now.Sub(f.unreadableSince).Round(time.Second), f.goneAfter)
	}
	return f.backoff, nil
}

// partError is one fetch error of a poll.
type partError struct {
	part int32
	err  error
}

// unknownTopic reports whether err says the broker does not know the topic
// we fetch: by name, or by the ID we hold (a recreated topic has a new one).
func unknownTopic(err error) bool {
	return errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, kerr.UnknownTopicOrPartition)
}

// active reports whether observe has state that a poll without errors
// still moves on (a streak to end, a backoff to reset).
func (f *fetchErrors) active() bool {
	return len(f.streaks) > 0 || f.backoff > 0 || !f.unreadableSince.IsZero()
}

// unreadable returns the current run of unknown-topic errors: when it
// began, its latest error and that error's text; a zero since when there
// is none.
func (f *fetchErrors) unreadable() (since, last time.Time, err string) {
	if f.unreadableSince.IsZero() {
		return time.Time{}, time.Time{}, ""
	}
	return f.unreadableSince, f.lastUnreadable, f.lastUnreadableErr
}
