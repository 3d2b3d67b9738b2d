package lag_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestHaltedPartitionFromCommitNote: the note a processor commits with a
// halted partition's offset (processor.HaltNote) shows on the partition;
// once the offset moves past it (a skip), the note no longer applies.
func TestHaltedPartitionFromCommitNote(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "in"), kafkatest.Name(t, "g")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		pcl := producer(t, c.Brokers)
		produce(t, pcl, topic, 0, 5, nil)
		produce(t, pcl, topic, 1, 5, nil)
		adm := kadm.NewClient(client(t, c.Brokers))
		since := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		note := processor.HaltNote(processor.Halt{Offset: 2, Attempts: 3, Err: "value is not JSON", Since: since})
		os := make(kadm.Offsets)
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 2, LeaderEpoch: -1, Metadata: note})
		os.Add(kadm.Offset{Topic: topic, Partition: 1, At: 4, LeaderEpoch: -1, Metadata: "someone else's"})
		if err := adm.CommitAllOffsets(context.Background(), grp, os); err != nil {
			t.Fatal(err)
		}
		m := newMonitor(t, c.Brokers, lag.Config{Groups: "^" + grp + "$"}, nil)
		g := group(t, poll(t, m), grp)
		byPart := map[int32]lag.Partition{}
		for _, p := range g.Partitions {
			byPart[p.Partition] = p
		}
		want := lag.Halt{Offset: 2, Attempts: 3, Err: "value is not JSON", Since: since}
		if h := byPart[0].Halted; h == nil || *h != want {
			t.Fatalf("partition 0 halted %+v, want %+v", h, want)
		}
		if h := byPart[1].Halted; h != nil {
			t.Fatalf("partition 1 halted %+v from another client's metadata", h)
		}
		// A skip past the record commits without the note.
		commit(t, adm, grp, topic, map[int32]int64{0: 3})
		g = group(t, poll(t, m), grp)
		for _, p := range g.Partitions {
			if p.Halted != nil {
				t.Fatalf("partition %d still halted after the skip: %+v", p.Partition, p.Halted)
			}
		}
	})
}
