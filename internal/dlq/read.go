package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/kafka"
)

// ErrNoTopic is returned when a topic Inspect or Replay needs does not
// exist.
var ErrNoTopic = errors.New("does not exist")

// ErrNoDeadLetters is returned when a topic holds records but none of them
// is a dead letter: it is almost certainly not a dead-letter topic.
var ErrNoDeadLetters = errors.New("not a dead-letter topic")

// read reads topic from since (the zero time: from the start) up to the end
// offsets it has when the call begins, calling fn for every record in
// partition offset order; fn's error stops the read. It uses no consumer
// group and commits nothing. cl is only used for metadata; reading uses a
// client of its own made from opts.
func read(ctx context.Context, cl *kgo.Client, opts []kgo.Opt, topic string, since time.Time, fn func(*kgo.Record) error) error {
	if _, err := partitions(ctx, cl, topic); err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	var starts kadm.ListedOffsets
	if since.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, topic)
	} else {
		// The first offset whose timestamp is at or after since: the
		// dead letter's timestamp is when the engine wrote it.
		starts, err = adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("listing start offsets of %s: %w", topic, err)
	}
	from := map[int32]kgo.Offset{}
	remaining := map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(topic, e.Partition)
		if !ok || s.Offset < 0 || s.Offset >= e.Offset {
			return
		}
		from[e.Partition] = kgo.NewOffset().At(s.Offset)
		remaining[e.Partition] = e.Offset
	})
	if len(remaining) == 0 {
		return nil
	}
	rc, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	defer rc.Close()
	for len(remaining) > 0 {
		fetches := rc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s: %w (%d partitions unfinished)", topic, err, len(remaining))
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("reading %s partition %d: %w", topic, errs[0].Partition, errs[0].Err)
		}
		var ferr error
		fetches.EachRecord(func(r *kgo.Record) {
			end, open := remaining[r.Partition]
			if ferr != nil || !open || r.Offset >= end {
				return
			}
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			if !since.IsZero() && r.Timestamp.Before(since) {
				return
			}
			ferr = fn(r)
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// partitions returns topic's partition count, or an error wrapping
// ErrNoTopic when it does not exist, asking the cluster rather than the
// client's metadata cache.
func partitions(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	mds, err := kafka.DescribeTopics(ctx, cl, topic)
	if err != nil {
		return 0, err
	}
	md, ok := mds[topic]
	if !ok {
		return 0, fmt.Errorf("topic %q %w", topic, ErrNoTopic)
	}
	return len(md.Partitions), nil
}
