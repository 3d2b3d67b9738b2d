package dlq

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultMaxReplays is ReplayConfig.MaxReplays's default.
const DefaultMaxReplays = 3

// maxListed bounds the failures and skipped letters a Result names.
const maxListed = 20

// ReplayConfig selects the dead letters Replay sends back and where.
type ReplayConfig struct {
	// To is the topic replayed records go to; "" sends each back to the
	// topic it came from (its source partition too, so its key stays in
	// the partition that orders it). A record sent to another topic is
	// partitioned by its key, as a producer would.
	To string
	// Since skips dead letters written before it; the zero time takes the
	// whole topic.
	Since time.Time
	// FilterError, when not nil, takes only dead letters whose error
	// matches it.
	FilterError *regexp.Regexp
	// MaxReplays caps replays of one record: a dead letter whose record
	// was already replayed MaxReplays times (HeaderReplayCount) is skipped
	// and reported. At least 1.
	MaxReplays int
	// Execute writes the records; without it Replay is a dry run that
	// reports what it would do and writes nothing.
	Execute bool
}

// Ref names one dead letter and what became of it.
type Ref struct {
	Partition int32  `json:"partition"` // in the dead-letter topic
	Offset    int64  `json:"offset"`    // in the dead-letter topic
	Source    Source `json:"source"`
	Replays   int    `json:"replays"`
	Reason    string `json:"reason"`
}

// Result is what Replay did, or would do in a dry run.
type Result struct {
	Topic    string `json:"topic"`
	Execute  bool   `json:"execute"`
	Read     int    `json:"read"`     // records read from the dead-letter topic in the window
	Other    int    `json:"other"`    // of them, records that are not dead letters
	Filtered int    `json:"filtered"` // dead letters whose error did not match FilterError
	Capped   int    `json:"capped"`   // dead letters skipped: their record was replayed MaxReplays times already
	Selected int    `json:"selected"` // dead letters to replay: read − other − filtered − capped
	Replayed int    `json:"replayed"` // records written and acknowledged (0 in a dry run)
	Failed   int    `json:"failed"`   // records that could not be written
	// Targets counts the selected dead letters by the topic they go to.
	Targets  map[string]int `json:"targets"`
	Failures []Ref          `json:"failures"` // the first failed records, with the error
	Skipped  []Ref          `json:"skipped"`  // the first capped dead letters
}

// Replay re-produces the dead letters of topic selected by cfg: each
// record's key, value and headers as they were, minus the dead-letter
// headers, plus HeaderReplayCount (one more than before) and
// HeaderReplayOf. opts make the producing client: Replay adds an
// idempotent producer with acks=all, so a retried write is not duplicated.
// Every target topic must exist before anything is written. A dry run
// (cfg.Execute false) reads and checks everything and writes nothing.
//
// Replay does not remember what it replayed: running it twice over the
// same window writes the records twice. Narrow a second run with Since.
func Replay(ctx context.Context, cl *kgo.Client, opts []kgo.Opt, topic string, cfg ReplayConfig) (Result, error) {
	if cfg.MaxReplays < 1 {
		return Result{}, fmt.Errorf("replaying %s: MaxReplays %d: want at least 1", topic, cfg.MaxReplays)
	}
	res := Result{Topic: topic, Execute: cfg.Execute, Targets: map[string]int{}, Failures: []Ref{}, Skipped: []Ref{}}
	var recs []*kgo.Record
	err := read(ctx, cl, opts, topic, cfg.Since, func(r *kgo.Record) error {
		res.Read++
		l, err := Parse(r)
		switch {
		case errors.Is(err, ErrNotDeadLetter):
			res.Other++
			return nil
		case err != nil:
			return err
		case cfg.FilterError != nil && !cfg.FilterError.MatchString(l.Error):
			res.Filtered++
			return nil
		case l.Replays >= cfg.MaxReplays:
			res.Capped++
			if len(res.Skipped) < maxListed {
				res.Skipped = append(res.Skipped, ref(l, fmt.Sprintf("replayed %d times already (the cap is %d)", l.Replays, cfg.MaxReplays)))
			}
			return nil
		}
		rec := replayRecord(topic, l, cfg.To)
		res.Selected++
		res.Targets[rec.Topic]++
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return res, err
	}
	if res.Read > 0 && res.Other == res.Read {
		return res, fmt.Errorf("topic %q is %w: none of its %d records has the %s* headers", topic, ErrNoDeadLetters, res.Read, deadLetterPrefix)
	}
	// Check every target before writing anything, in a dry run too: a
	// replay that writes half its records and then finds a topic missing
	// leaves the operator to work out which half.
	parts := map[string]int{}
	for t := range res.Targets {
		n, err := partitions(ctx, cl, t)
		if err != nil {
			return res, fmt.Errorf("checking replay target: %w", err)
		}
		parts[t] = n
	}
	if !cfg.Execute || len(recs) == 0 {
		return res, nil
	}
	pc, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotence needs acks=all; both are kgo's defaults, stated so no option given before can undo them
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return res, fmt.Errorf("creating producer: %w", err)
	}
	defer pc.Close()
	keyed := kgo.StickyKeyPartitioner(nil)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, rec := range recs {
		n := parts[rec.Topic]
		if src := rec.Context.Value(sourcePartition{}); src != nil && int(src.(int32)) < n {
			rec.Partition = src.(int32)
		} else {
			rec.Partition = int32(keyed.ForTopic(rec.Topic).Partition(rec, n))
		}
		wg.Add(1)
		pc.Produce(ctx, rec, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				res.Replayed++
				return
			}
			res.Failed++
			if len(res.Failures) < maxListed {
				l := r.Context.Value(letterRef{}).(Ref)
				l.Reason = fmt.Sprintf("writing to %s/%d: %v", r.Topic, r.Partition, err)
				res.Failures = append(res.Failures, l)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(res.Failures, func(a, b Ref) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	if res.Failed > 0 {
		return res, fmt.Errorf("replaying %s: %d of %d records could not be written (first: %s)", topic, res.Failed, res.Selected, res.Failures[0].Reason)
	}
	return res, nil
}

// Context keys a replayed record carries for the produce callback.
type (
	sourcePartition struct{} // int32: send it to this partition (replay to the source topic)
	letterRef       struct{} // Ref: the dead letter it came from
)

// replayRecord builds the record replaying l, read from dlqTopic, to
// topic to ("" for l's source).
func replayRecord(dlqTopic string, l Letter, to string) *kgo.Record {
	hs := make([]kgo.RecordHeader, 0, len(l.Headers)+2)
	for _, h := range l.Headers {
		// The previous replay's headers are replaced, at the end, so a
		// record carries one of each.
		if h.Key != HeaderReplayCount && h.Key != HeaderReplayOf {
			hs = append(hs, h)
		}
	}
	hs = append(hs,
		kgo.RecordHeader{Key: HeaderReplayCount, Value: strconv.AppendInt(nil, int64(l.Replays+1), 10)},
		kgo.RecordHeader{Key: HeaderReplayOf, Value: fmt.Appendf(nil, "%s/%d/%d", dlqTopic, l.Partition, l.Offset)})
	ctx := context.WithValue(context.Background(), letterRef{}, ref(l, ""))
	if to == "" || to == l.Source.Topic {
		to = l.Source.Topic
		ctx = context.WithValue(ctx, sourcePartition{}, l.Source.Partition)
	}
	return &kgo.Record{Topic: to, Key: l.Key, Value: l.Value, Headers: hs, Context: ctx}
}

func ref(l Letter, reason string) Ref {
	return Ref{Partition: l.Partition, Offset: l.Offset, Source: l.Source, Replays: l.Replays, Reason: reason}
}
