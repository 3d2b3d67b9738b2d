package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// PreviewBytes bounds the key and value previews Inspect shows.
const PreviewBytes = 40

// InspectConfig selects the dead letters Inspect reads and lists.
type InspectConfig struct {
	// Since skips dead letters written before it; the zero time reads the
	// whole topic.
	Since time.Time
	// Limit is the most dead letters listed in Summary.Letters, the oldest
	// first; 0 lists them all. The counts always cover every dead letter
	// read.
	Limit int
}

// Row is one dead letter as Inspect lists it: everything but the value,
// of which it keeps a preview.
type Row struct {
	Partition    int32     `json:"partition"` // in the dead-letter topic
	Offset       int64     `json:"offset"`    // in the dead-letter topic
	Timestamp    time.Time `json:"timestamp"` // of the dead-letter record
	Source       Source    `json:"source"`
	Error        string    `json:"error"`
	Attempts     int       `json:"attempts"`
	FailedAt     time.Time `json:"failed_at"`
	Replays      int       `json:"replays"`
	Key          string    `json:"key"`           // Preview of the key
	ValuePreview string    `json:"value_preview"` // Preview of the value
	ValueBytes   int       `json:"value_bytes"`
	Headers      int       `json:"headers"` // the record's own headers, dead-letter headers not counted
}

// ErrorCount is how many dead letters failed with one error.
type ErrorCount struct {
	Error string `json:"error"`
	Count int    `json:"count"`
	// Sources counts them by source topic.
	Sources map[string]int `json:"sources"`
}

// Summary is what Inspect found.
type Summary struct {
	Topic       string       `json:"topic"`
	Since       *time.Time   `json:"since,omitempty"`
	DeadLetters int          `json:"dead_letters"` // dead letters read
	Replayed    int          `json:"replayed"`     // of them, records that had been replayed before (Replays > 0)
	Other       int          `json:"other"`        // records without the dead-letter headers, not counted as dead letters
	ByError     []ErrorCount `json:"by_error"`     // most frequent first
	Letters     []Row        `json:"letters"`      // the first InspectConfig.Limit dead letters, oldest first
	More        int          `json:"more"`         // dead letters read but not listed
}

// Inspect reads the dead letters of topic and summarises them. cl is used
// for metadata; opts make the reading client (seed brokers, TLS, SASL). It
// returns an error wrapping ErrNoTopic for a missing topic and
// ErrNoDeadLetters for a topic with records but no dead letter.
func Inspect(ctx context.Context, cl *kgo.Client, opts []kgo.Opt, topic string, cfg InspectConfig) (Summary, error) {
	s := Summary{Topic: topic}
	if !cfg.Since.IsZero() {
		since := cfg.Since.UTC()
		s.Since = &since
	}
	counts := map[string]*ErrorCount{}
	err := read(ctx, cl, opts, topic, cfg.Since, func(r *kgo.Record) error {
		l, err := Parse(r)
		if errors.Is(err, ErrNotDeadLetter) {
			s.Other++
			return nil
		}
		// A dead letter with an unreadable header is still listed, with
		// what could be read: inspecting is how an operator finds it.
		s.DeadLetters++
		if l.Replays > 0 {
			s.Replayed++
		}
		c := counts[l.Error]
		if c == nil {
			c = &ErrorCount{Error: l.Error, Sources: map[string]int{}}
			counts[l.Error] = c
		}
		c.Count++
		c.Sources[l.Source.Topic]++
		s.Letters = append(s.Letters, Row{
			Partition: l.Partition, Offset: l.Offset, Timestamp: l.Timestamp.UTC(), Source: l.Source,
			Error: l.Error, Attempts: l.Attempts, FailedAt: l.FailedAt, Replays: l.Replays,
			Key: Preview(l.Key), ValuePreview: Preview(l.Value), ValueBytes: len(l.Value), Headers: len(l.Headers),
		})
		return nil
	})
	if err != nil {
		return s, err
	}
	if s.DeadLetters == 0 && s.Other > 0 {
		return s, fmt.Errorf("topic %q is %w: none of its %d records has the %s* headers", topic, ErrNoDeadLetters, s.Other, deadLetterPrefix)
	}
	for _, c := range counts {
		s.ByError = append(s.ByError, *c)
	}
	slices.SortFunc(s.ByError, func(a, b ErrorCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Error, b.Error))
	})
	slices.SortFunc(s.Letters, func(a, b Row) int {
		return cmp.Or(a.Timestamp.Compare(b.Timestamp), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	if cfg.Limit > 0 && len(s.Letters) > cfg.Limit {
		s.More = len(s.Letters) - cfg.Limit
		s.Letters = slices.Clip(s.Letters[:cfg.Limit])
	}
	if s.ByError == nil {
		s.ByError = []ErrorCount{}
	}
	if s.Letters == nil {
		s.Letters = []Row{}
	}
	return s, nil
}

// Preview shows b for a terminal: "(null)" for a nil key or value, text
// (quoted when it is empty or has spaces at either end, cut at
// PreviewBytes with "…") when b is printable UTF-8, and otherwise "0x" and
// the hex of its first bytes with its length.
func Preview(b []byte) string {
	switch {
	case b == nil:
		return "(null)"
	case len(b) == 0:
		return `""`
	}
	cut := b
	if len(cut) > PreviewBytes {
		cut = cut[:PreviewBytes]
		// Do not split a rune: back up to its start.
		for len(cut) > 0 && !utf8.RuneStart(b[len(cut)]) {
			cut = cut[:len(cut)-1]
		}
	}
	if printable(cut) {
		s := string(cut)
		if s[0] == ' ' || s[len(s)-1] == ' ' {
			s = strconv.Quote(s)
		}
		if len(cut) < len(b) {
			s += "…"
		}
		return s
	}
	n := min(len(b), PreviewBytes/2)
	s := fmt.Sprintf("0x%x", b[:n])
	if n < len(b) {
		s += fmt.Sprintf("… (%d bytes)", len(b))
	}
	return s
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
