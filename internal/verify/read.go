package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// CheckTopics fails, naming every missing or unreadable one, unless all
// of topics exist: verify checks them all before it reads any, so a typo in
// the output topic is not reported after minutes of reading the input.
func CheckTopics(ctx context.Context, topics []string, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("listing end offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	var errs []error
	for _, t := range topics {
		ps, ok := ends[t]
		if !ok {
			errs = append(errs, fmt.Errorf("topic %s: not listed", t))
			continue
		}
		for _, o := range ps {
			if o.Err != nil {
				errs = append(errs, fmt.Errorf("topic %s: %w", t, o.Err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// ReadTopic reads topic as a read_committed consumer sees it: from its
// start to the last stable offset it has when the call begins, calling fn
// for every record of a committed or non-transactional write, in partition
// offset order; records of aborted transactions are skipped, and those of
// a transaction still open at the start are not waited for (nor is its
// end: the read ends even while a hung transaction pins the last stable
// offset). It uses no
// consumer group and commits nothing. opts carry the connection (seed
// brokers, client id, dial timeout).
func ReadTopic(ctx context.Context, topic string, fn func(*kgo.Record), opts ...kgo.Opt) (int64, error) {
	return readTopic(ctx, topic, true, fn, opts...)
}

// ReadTopicUncommitted is ReadTopic as a read_uncommitted consumer sees
// it, up to the high watermark: records of aborted and open transactions
// too (a test shows with it that aborted copies exist).
func ReadTopicUncommitted(ctx context.Context, topic string, fn func(*kgo.Record), opts ...kgo.Opt) (int64, error) {
	return readTopic(ctx, topic, false, fn, opts...)
}

func readTopic(ctx context.Context, topic string, committed bool, fn func(*kgo.Record), opts ...kgo.Opt) (int64, error) {
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, fmt.Errorf("creating client: %w", err)
	}
	defer adm.Close()
	ka := kadm.NewClient(adm)
	// The last stable offsets first: a transaction that had ended by then
	// has its marker below the high watermarks listed after.
	var stable kadm.ListedOffsets
	if committed {
		if stable, err = listed(ctx, func(ctx context.Context) (kadm.ListedOffsets, error) {
			return ka.ListCommittedOffsets(ctx, topic)
		}); err != nil {
			return 0, fmt.Errorf("listing last stable offsets of %s: %w", topic, err)
		}
	}
	ends, err := listed(ctx, func(ctx context.Context) (kadm.ListedOffsets, error) {
		return ka.ListEndOffsets(ctx, topic)
	})
	if err != nil {
		return 0, fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	starts := map[string]map[int32]kgo.Offset{topic: {}}
	remaining := map[int32]int64{}
	filters := map[int32]*committedFilter{}
	var plain int64 // records passed on without a filter
	count := func() int64 {
		n := plain
		for _, f := range filters {
			n += f.n
		}
		return n
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset <= 0 {
			return
		}
		starts[topic][o.Partition] = kgo.NewOffset().AtStart()
		remaining[o.Partition] = o.Offset
		if committed {
			lso := int64(0)
			if s, ok := stable.Lookup(topic, o.Partition); ok {
				lso = s.Offset
			}
			filters[o.Partition] = newCommittedFilter(lso, fn)
		}
	})
	if len(remaining) == 0 {
		return 0, nil
	}
	// read_uncommitted with the transaction markers: every offset below
	// the high watermark is a record or a marker, so each partition is
	// seen to end; committedFilter does what read_committed would.
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(starts), kgo.FetchMaxWait(500*time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return 0, fmt.Errorf("creating client: %w", err)
	}
	defer cl.Close()
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return count(), fmt.Errorf("reading %s: %w (%d partitions unfinished)", topic, err, len(remaining))
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return count(), fmt.Errorf("reading %s partition %d: %w", topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, open := remaining[r.Partition]
			if !open {
				return
			}
			if r.Offset < end {
				switch f := filters[r.Partition]; {
				case f != nil:
					f.add(r)
				case !r.Attrs.IsControl():
					fn(r)
					plain++
				}
			}
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return count(), nil
}

// leaderMoveWait bounds how long a listing waits for a moving leader: a
// partition without one for longer (every replica down) is reported.
const leaderMoveWait = 5 * time.Second

// listed runs a listing of offsets again while a partition's leader is
// moving, for at most leaderMoveWait and until ctx ends; other errors, a
// missing topic among them, are returned at once. A leadership moving (a
// broker back from a restart taking its preferred leaderships again) is
// answered NOT_LEADER_FOR_PARTITION for a moment, per partition, which the
// client does not retry by itself.
func listed(ctx context.Context, list func(context.Context) (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
	giveUp := time.Now().Add(leaderMoveWait)
	for {
		l, err := list(ctx)
		if err == nil {
			err = l.Error()
		}
		if err == nil || !leaderMoving(err) || time.Now().After(giveUp) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return l, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// leaderMoving reports the errors a partition answers while its leadership
// moves.
func leaderMoving(err error) bool {
	for _, e := range []error{kerr.NotLeaderForPartition, kerr.LeaderNotAvailable, kerr.OffsetNotAvailable,
		kerr.FencedLeaderEpoch, kerr.UnknownLeaderEpoch} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
