package lag_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/embedded"
	"github.com/veltrix/veltrix/pkg/lag"
)

// BenchmarkPoll500Groups polls 500 groups, each with commits on all 64
// partitions of its own topic (32,000 group-partitions, every one lagging
// by one record), on the embedded cluster.
//
//   - cold: a new monitor per poll, so every partition's record time is read;
//   - warm: the same monitor, committed offsets unchanged: record times come
//     from the cache, the steady state of a monitor between commits.
func BenchmarkPoll500Groups(b *testing.B) {
	const groups, partitions = 500, 64
	cl, err := embedded.Start(embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	brokers := cl.Addrs()
	pr := producer(b, brokers)
	adm := kadm.NewClient(pr)
	ctx := context.Background()
	topics := make([]string, groups)
	for i := range topics {
		topics[i] = fmt.Sprintf("bench-%03d", i)
	}
	if err := kafkatest.CreateTopics(ctx, brokers, partitions, topics...); err != nil {
		b.Fatal(err)
	}
	var recs []*kgo.Record
	for _, t := range topics {
		for p := range int32(partitions) {
			recs = append(recs, &kgo.Record{Topic: t, Partition: p, Value: []byte("a")}, &kgo.Record{Topic: t, Partition: p, Value: []byte("b")})
		}
	}
	if err := pr.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	for i, t := range topics {
		os := make(kadm.Offsets)
		for p := range int32(partitions) {
			os.Add(kadm.Offset{Topic: t, Partition: p, At: 1, LeaderEpoch: -1})
		}
		if err := adm.CommitAllOffsets(ctx, fmt.Sprintf("bench-group-%03d", i), os); err != nil {
			b.Fatal(err)
		}
	}
	cfg := lag.Config{Groups: "^bench-group-", Window: 10, Interval: 10 * time.Second, Reset: "earliest", Cluster: "bench"}
	check := func(s *lag.Snapshot) {
		n := 0
		for _, g := range s.Groups {
			for _, p := range g.Partitions {
				if p.Lag != 1 || !p.TimeLagKnown || p.RecordTime.IsZero() {
					b.Fatalf("%s %s/%d: lag %d, time known %v", g.Name, p.Topic, p.Partition, p.Lag, p.TimeLagKnown)
				}
				n++
			}
		}
		if n != groups*partitions {
			b.Fatalf("polled %d group-partitions, want %d", n, groups*partitions)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			m := newMonitor(b, brokers, cfg, nil)
			b.StartTimer()
			s, err := m.Poll(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			check(s)
			b.StartTimer()
		}
	})
	b.Run("warm", func(b *testing.B) {
		m := newMonitor(b, brokers, cfg, nil)
		if _, err := m.Poll(ctx); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			s, err := m.Poll(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			check(s)
			b.StartTimer()
		}
	})
}
