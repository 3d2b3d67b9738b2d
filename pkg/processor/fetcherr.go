package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrTopicGone is returned by Run when an input topic stayed unreadable
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
	// unread is each input topic's current run of unknown-topic errors: one
	// topic's records do not say that another is readable.
	unread map[string]*unreadRun
}

// unreadRun is a run of unknown-topic errors on one topic: when it began,
// its latest error and that error's text.
type unreadRun struct {
	since, last time.Time
	err         string
}

// fetchErrKey identifies a repeated error: the same text on one partition
// (-1 for the whole topic).
type fetchErrKey struct {
	tp   topicPart
	text string
}

func newFetchErrors(log *slog.Logger, topic string, goneAfter time.Duration) *fetchErrors {
	return &fetchErrors{log: log, topic: topic, goneAfter: goneAfter, streaks: map[fetchErrKey]*streak{}, unread: map[string]*unreadRun{}}
}

// observe takes one poll's errors (partition and error, in order) and the
// partitions that returned records, at time now. It logs a new error once,
// a continuing one every streakRepeatLog with its count, and the end of a
// streak with its total. It returns how long the poll loop should wait
// before polling again (0: at once), and ErrTopicGone, wrapped with what to
// do, once a topic has been unreadable for longer than goneAfter.
func (f *fetchErrors) observe(now time.Time, errs []partError, withRecords map[topicPart]bool) (time.Duration, error) {
	for _, e := range errs {
		k := fetchErrKey{e.tp, e.err.Error()}
		s, ok := f.streaks[k]
		if !ok {
			s = &streak{}
			f.streaks[k] = s
		}
		switch {
		case !s.hit(now):
		case s.n == 1:
			f.log.Warn("fetch error; repeats of it are counted, not logged, until it stops", "partition", f.partArg(e.tp), "err", e.err)
		default:
			f.log.Warn("fetch error still repeating", "partition", f.partArg(e.tp), "err", e.err, "times", s.n, "since", s.took())
		}
		if unknownTopic(e.err) {
			u := f.unread[e.tp.topic]
			if u == nil || now.Sub(u.last) > fetchErrQuiet {
				u = &unreadRun{since: now}
				f.unread[e.tp.topic] = u
			}
			u.last, u.err = now, fmt.Sprintf("partition %d: %v", e.tp.part, e.err)
			if e.tp.topic != f.topic {
				u.err = fmt.Sprintf("topic %s %s", e.tp.topic, u.err)
			}
		}
	}
	topicRecords := map[string]bool{}
	for tp := range withRecords {
		topicRecords[tp.topic] = true
	}
	for t := range topicRecords {
		delete(f.unread, t)
	}
	for k, s := range f.streaks {
		recovered := withRecords[k.tp] || k.tp.part < 0 && topicRecords[k.tp.topic]
		if recovered || now.Sub(s.last) > fetchErrQuiet {
			how := "fetching recovered"
			if !recovered {
				how = "fetch error stopped recurring"
			}
			f.log.Info(how, "partition", f.partArg(k.tp), "err", k.text, "times", s.n, "for", s.took())
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

	if t, u := f.longestUnread(); u != nil && now.Sub(u.last) <= fetchErrQuiet && now.Sub(u.since) >= f.goneAfter {
		return f.backoff, fmt.Errorf("%w: topic %s has answered only unknown topic or topic id errors for %s "+
			"(processor.group.rebalance_timeout %s); if a broker lost its data or the topic was recreated, the records "+
			"of the old topic are gone and its committed offsets mean nothing for the new one: check what was lost, "+
			"then restart this process to consume the topic as it exists now (from the group's committed offsets, "+
			"else processor.start_offset)",
			ErrTopicGone, t, now.Sub(u.since).Round(time.Second), f.goneAfter)
	}
	return f.backoff, nil
}

// longestUnread returns the topic unreadable for longest and its run; a
// nil run when every topic is readable.
func (f *fetchErrors) longestUnread() (string, *unreadRun) {
	var (
		topic string
		run   *unreadRun
	)
	for t, u := range f.unread {
		if run == nil || u.since.Before(run.since) || u.since.Equal(run.since) && t < topic {
			topic, run = t, u
		}
	}
	return topic, run
}

// partError is one fetch error of a poll.
type partError struct {
	tp  topicPart
	err error
}

// partArg names tp in a log line: the partition number when tp is of the
// processor's one input topic, topic/partition otherwise.
func (f *fetchErrors) partArg(tp topicPart) any {
	if tp.topic == f.topic {
		return tp.part
	}
	return fmt.Sprintf("%s/%d", tp.topic, tp.part)
}

// unknownTopic reports whether err says the broker does not know the topic
// we fetch: by name, or by the ID we hold (a recreated topic has a new one).
func unknownTopic(err error) bool {
	return errors.Is(err, kerr.UnknownTopicID) || errors.Is(err, kerr.UnknownTopicOrPartition)
}

// active reports whether observe has state that a poll without errors
// still moves on (a streak to end, a backoff to reset).
func (f *fetchErrors) active() bool {
	return len(f.streaks) > 0 || f.backoff > 0 || len(f.unread) > 0
}

// unreadable returns the current run of unknown-topic errors: when it
// began, its latest error and that error's text; a zero since when there
// is none.
func (f *fetchErrors) unreadable() (since, last time.Time, err string) {
	_, u := f.longestUnread()
	if u == nil {
		return time.Time{}, time.Time{}, ""
	}
	return u.since, u.last, u.err
}
