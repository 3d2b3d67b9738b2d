package pipeline

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// TestTopicsOfSeveralInputs: the topics a pipeline of topic.names ensures
// are every input, each input's {topic} output and dead-letter topic; with
// topic.pattern only what is known before any input is.
func TestTopicsOfSeveralInputs(t *testing.T) {
	c := config.Default()
	c.Topic.Names = []string{"a", "b"}
	c.Handler.Name, c.Handler.OutputTopic = "forward", "{topic}.out"
	c.Processor.OnFailure = "dlq"
	if got, want := Topics(c), []string{"a", "b", "a.out", "b.out", "a.dlq", "b.dlq"}; !slices.Equal(got, want) {
		t.Fatalf("Topics = %v, want %v", got, want)
	}
	c.Topic.Names, c.Topic.Pattern = nil, "in-.*"
	c.Handler.OutputTopic = "all-out"
	if got, want := Topics(c), []string{"all-out"}; !slices.Equal(got, want) {
		t.Fatalf("Topics with a pattern = %v, want %v", got, want)
	}
	all := []string{"in-a", "in-b", "in-a.dlq", "all-out", "__consumer_offsets", "other"}
	if got, want := MatchTopics(c, all), []string{"in-a", "in-b"}; !slices.Equal(got, want) {
		t.Fatalf("MatchTopics = %v, want %v", got, want)
	}
}

// TestForwardPerSourceTopicByPattern: a pipeline of topic.pattern with
// handler.output_topic {topic}.out forwards each input to its own output,
// creating the output when its input first appears, and never consumes
// those outputs although the pattern matches them.
func TestForwardPerSourceTopicByPattern(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		const n = 100
		prefix := kafkatest.Name(t, "in")
		a, b := prefix+"-a", prefix+"-b"
		kafkatest.CreateTopic(t, c.Brokers, a, 2)
		kafkatest.CreateTopic(t, c.Brokers, b, 3)
		pcl := kafkatest.Client(t, c.Brokers)
		for _, topic := range []string{a, b} {
			var recs []*kgo.Record
			for i := range n {
				recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint("k", i%7)), Value: []byte(fmt.Sprintf("%s-%d", topic, i))})
			}
			if err := pcl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}

		cfg := config.Default()
		cfg.Kafka.Brokers = c.Brokers
		cfg.Topic.Pattern, cfg.Topic.Refresh = regexp.QuoteMeta(prefix)+"-.*", time.Second
		cfg.Handler.Name, cfg.Handler.OutputTopic = "forward", "{topic}.out"
		quickGroup(t, &cfg)
		p := runProcessor(t, cfg, Options{Metrics: metrics.New(metrics.NewRegistry())})

		adm := kafkatest.Admin(t, c.Brokers)
		kafkatest.Eventually(t, 60*time.Second, "each input forwarded to its own output", func() bool {
			total, ok := endTotals(adm, a+".out", b+".out")
			return ok && total[a+".out"] == n && total[b+".out"] == n
		})
		for _, topic := range []string{a, b} {
			for _, r := range readAll(t, c.Brokers, topic+".out", n) {
				if !regexp.MustCompile("^" + regexp.QuoteMeta(topic) + "-[0-9]+$").Match(r.Value) {
					t.Fatalf("%s.out holds %q, not a record of %s", topic, r.Value, topic)
				}
			}
		}
		if owned := p.Owned(); len(owned) != 2 || len(owned[a]) != 2 || len(owned[b]) != 3 {
			t.Fatalf("Owned() = %v: want only the inputs, never their outputs", owned)
		}
	})
}

// readAll reads n records of topic from the start.
func readAll(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", len(out), n, topic)
		}
		out = append(out, f.Records()...)
	}
	return out
}
