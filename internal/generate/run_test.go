package generate_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/event"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/producer"
)

// TestGeneratorWritesEveryEventIntact: through a real client, with few
// records buffered so that slabs are released and built in again many
// times over, every event reaches the topic once with its own key and
// value: no event is rebuilt while the client still holds it.
func TestGeneratorWritesEveryEventIntact(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "gen")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		pc := producer.DefaultConfig()
		pc.MaxBufferedRecords = 300 // about one slab in flight
		cl, err := kgo.NewClient(append(producer.ClientOptions(pc), kgo.SeedBrokers(c.Brokers...))...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		const n = 40*256 + 17
		cfg := generate.Config{Count: n, Size: 100, Keys: 1000, ID: "gen-run"}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := generate.NewGenerator(cl, topic, cfg, generate.Options{FlushTimeout: time.Minute}).Run(ctx)
		if err != nil || res.Acked != n {
			t.Fatalf("Run = %+v, %v; want %d acknowledged", res, err, n)
		}

		cons, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cons.Close()
		seen := make([]bool, n)
		for got := 0; got < n; {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("read %d of %d events: %v", got, n, err)
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
			for _, r := range fs.Records() {
				id, ok := event.Of(r)
				if !ok || id.Producer != "gen-run" || id.Seq >= n {
					t.Fatalf("record at %d/%d: value %q carries no event of this run", r.Partition, r.Offset, r.Value)
				}
				if want := event.Value(nil, 100, id); !bytes.Equal(r.Value, want) {
					t.Fatalf("event %d: value %q, want %q", id.Seq, r.Value, want)
				}
				if want := "key-" + strconv.FormatUint(id.Seq%1000, 10); string(r.Key) != want {
					t.Fatalf("event %d: key %q, want %q", id.Seq, r.Key, want)
				}
				if seen[id.Seq] {
					t.Fatalf("event %d written twice", id.Seq)
				}
				seen[id.Seq] = true
				got++
			}
		}
	})
}
