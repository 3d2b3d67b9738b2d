package verify

import (
	"time"

	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadTopic reads topic from its start to the end offsets it has when the
// call begins, calling fn for every record in partition offset order. It
// uses no consumer group and commits nothing. opts carry the connection
// (seed brokers, client id, dial timeout).
func ReadTopic(ctx context.Context, topic string, fn func(*kgo.Record), opts ...kgo.Opt) (int64, error) {
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, fmt.Errorf("creating client: %w", err)
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return 0, fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	starts := map[string]map[int32]kgo.Offset{topic: {}}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			starts[topic][o.Partition] = kgo.NewOffset().AtStart()
			remaining[o.Partition] = o.Offset
		}
	})
	if len(remaining) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(starts), kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return 0, fmt.Errorf("creating client: %w", err)
	}
	defer cl.Close()
	var n int64
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("reading %s: %w (%d partitions unfinished)", topic, err, len(remaining))
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return n, fmt.Errorf("reading %s partition %d: %w", topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, open := remaining[r.Partition]
			if !open || r.Offset >= end {
				return
			}
			fn(r)
			n++
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return n, nil
}
