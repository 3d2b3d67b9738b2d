// Package dlq reads the dead letters the engine writes under
// processor.on_failure=dlq and sends them back: Inspect lists and counts
// them, Replay re-produces them to their source topic or another one.
//
// A dead letter is the failed record itself — key, value and headers byte
// for byte — plus the veltrix-dlq-* headers of pkg/processor naming where it
// came from and why it failed. A replayed record is the original again: the
// dead-letter headers are stripped (the engine adds fresh ones if it fails
// again) and HeaderReplayCount counts the replays, so a record that keeps
// failing is replayed at most ReplayConfig.MaxReplays times.
package dlq

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/processor"
)

// Headers Replay adds to a replayed record.
const (
	// HeaderReplayCount is how many times the record has been replayed from
	// a dead-letter topic: 1 on the first replay. It survives the engine's
	// next dead letter, as every header of the record does.
	HeaderReplayCount = "veltrix-replay-count"
	// HeaderReplayOf names the dead letter the record was replayed from, as
	// topic/partition/offset.
	HeaderReplayOf = "veltrix-replay-of"
)

// deadLetterPrefix starts every header the engine adds to a dead letter.
const deadLetterPrefix = "veltrix-dlq-"

// ErrNotDeadLetter is returned by Parse for a record without the
// dead-letter headers.
var ErrNotDeadLetter = errors.New("not a dead letter: no " + processor.HeaderDLQTopic + " header")

// Source is where a dead letter's record was read from.
type Source struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// Letter is one dead letter: the failed record and what the engine said
// about it.
type Letter struct {
	Partition int32     // in the dead-letter topic
	Offset    int64     // in the dead-letter topic
	Timestamp time.Time // of the dead-letter record

	Source   Source
	Error    string    // the handler's error
	Attempts int       // handler attempts before the record was dead-lettered
	FailedAt time.Time // when the engine wrote the dead letter (zero if unreadable)
	Replays  int       // HeaderReplayCount of the record: 0 if never replayed

	Key, Value []byte
	// Headers are the record's own headers, in order, without the
	// dead-letter headers (HeaderReplayCount and HeaderReplayOf included).
	Headers []kgo.RecordHeader
}

// Parse reads a dead letter from r. It returns ErrNotDeadLetter when r has
// no source-topic header, and an error naming the header when one of the
// dead-letter headers cannot be read. Key, Value and Headers share r's
// memory.
func Parse(r *kgo.Record) (Letter, error) {
	l := Letter{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
	found := false
	var errs []error
	for _, h := range r.Headers {
		if !strings.HasPrefix(h.Key, deadLetterPrefix) {
			l.Headers = append(l.Headers, h)
			if h.Key == HeaderReplayCount {
				n, err := strconv.Atoi(string(h.Value))
				if err != nil || n < 0 {
					errs = append(errs, fmt.Errorf("header %s = %q: want a whole number", h.Key, h.Value))
				}
				l.Replays = n
			}
			continue
		}
		v := string(h.Value)
		var err error
		switch h.Key {
		case processor.HeaderDLQTopic:
			l.Source.Topic, found = v, true
		case processor.HeaderDLQPartition:
			var p int64
			p, err = strconv.ParseInt(v, 10, 32)
			l.Source.Partition = int32(p)
		case processor.HeaderDLQOffset:
			l.Source.Offset, err = strconv.ParseInt(v, 10, 64)
		case processor.HeaderDLQError:
			l.Error = v
		case processor.HeaderDLQAttempts:
			l.Attempts, err = strconv.Atoi(v)
		case processor.HeaderDLQTime:
			l.FailedAt, err = time.Parse(time.RFC3339Nano, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("header %s = %q: %w", h.Key, v, err))
		}
	}
	if !found {
		return l, ErrNotDeadLetter
	}
	if len(errs) > 0 {
		return l, fmt.Errorf("reading dead letter %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, errors.Join(errs...))
	}
	return l, nil
}
