package processor_test

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/processor"
)

// topicRecorder counts every record it is handed by topic, partition and
// offset, and checks that each batch holds one topic-partition's records.
type topicRecorder struct {
	mu    sync.Mutex
	seen  map[string]int // "topic/partition/offset" -> calls
	mixed int            // records whose topic or partition differ from their batch's
}

func (r *topicRecorder) Handle(_ context.Context, b *processor.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range b.Records {
		if rec.Topic != b.Topic || rec.Partition != b.Partition {
			r.mixed++
		}
		r.seen[fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset)]++
	}
	return nil
}

// counts returns the distinct records of topic seen, and how many were seen
// more than once.
func (r *topicRecorder) counts(topic string) (distinct, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	re := regexp.MustCompile("^" + regexp.QuoteMeta(topic) + "/")
	for k, n := range r.seen {
		if re.MatchString(k) {
			distinct++
			if n > 1 {
				dups++
			}
		}
	}
	return distinct, dups
}

// TestSeveralTopicsByNames: one processor consumes two topics named in
// Options.Topics; every record of both is handled once, batches never mix
// topic-partitions, the group commits each topic-partition to its end, and
// the lag monitor reports every partition of both topics at lag 0.
func TestSeveralTopicsByNames(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		a, b, group := kafkatest.Name(t, "a"), kafkatest.Name(t, "b"), kafkatest.Name(t, "g")
		kafkatest.CreateTopic(t, c.Brokers, a, 2)
		kafkatest.CreateTopic(t, c.Brokers, b, 3)
		produce(t, c.Brokers, a, 200)
		produce(t, c.Brokers, b, 300)

		rec := &topicRecorder{seen: map[string]int{}}
		p := mustNew(t, kcfg(c.Brokers, "multi"), "", testConfig(group), rec, processor.Options{Topics: processor.Topics{Names: []string{a, b}}})
		stop := runProcessor(t, p)
		defer stop()

		kafkatest.Eventually(t, 60*time.Second, "every record of both topics handled", func() bool {
			na, _ := rec.counts(a)
			nb, _ := rec.counts(b)
			return na == 200 && nb == 300
		})
		waitCommittedToEnd(t, c.Brokers, group, a, b)
		if owned := p.Owned(); len(owned[a]) != 2 || len(owned[b]) != 3 {
			t.Fatalf("Owned() = %v, want 2 partitions of %s and 3 of %s", owned, a, b)
		}
		checkLagEveryTopic(t, c.Brokers, group, map[string]int{a: 2, b: 3})
		stop()
		for _, topic := range []string{a, b} {
			if _, dups := rec.counts(topic); dups != 0 {
				t.Errorf("%s: %d records handled more than once in a clean run", topic, dups)
			}
		}
		if rec.mixed != 0 {
			t.Errorf("%d records in a batch of another topic-partition", rec.mixed)
		}
	})
}

// TestSeveralTopicsByPattern: a processor of a pattern consumes the topic
// that matches at start, picks up one created while it runs (at its next
// metadata refresh), and never consumes a matching dead-letter topic.
func TestSeveralTopicsByPattern(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		prefix, group := kafkatest.Name(t, "pt"), kafkatest.Name(t, "g")
		first, later, dlq := prefix+"-first", prefix+"-later", prefix+"-first.dlq"
		kafkatest.CreateTopic(t, c.Brokers, first, 2)
		kafkatest.CreateTopic(t, c.Brokers, dlq, 1)
		produce(t, c.Brokers, first, 100)
		produce(t, c.Brokers, dlq, 10)

		rec := &topicRecorder{seen: map[string]int{}}
		cfg := testConfig(group)
		cfg.OnFailure = processor.OnFailureDLQ
		p := mustNew(t, kcfg(c.Brokers, "pattern"), "", cfg, rec, processor.Options{Topics: processor.Topics{
			Pattern: regexp.QuoteMeta(prefix) + "-.*", Refresh: time.Second}})
		stop := runProcessor(t, p)
		defer stop()

		kafkatest.Eventually(t, 60*time.Second, "the matching topic's records handled", func() bool {
			n, _ := rec.counts(first)
			return n == 100
		})
		kafkatest.CreateTopic(t, c.Brokers, later, 3)
		produce(t, c.Brokers, later, 150)
		kafkatest.Eventually(t, 60*time.Second, "the topic created later picked up and handled", func() bool {
			n, _ := rec.counts(later)
			return n == 150
		})
		waitCommittedToEnd(t, c.Brokers, group, first, later)
		checkLagEveryTopic(t, c.Brokers, group, map[string]int{first: 2, later: 3})
		stop()
		if n, _ := rec.counts(dlq); n != 0 {
			t.Errorf("%d records of the dead-letter topic %s consumed: the pattern must exclude it", n, dlq)
		}
		for _, topic := range []string{first, later} {
			if _, dups := rec.counts(topic); dups != 0 {
				t.Errorf("%s: %d records handled more than once in a clean run", topic, dups)
			}
		}
	})
}

// runProcessor runs p until the returned stop is called (idempotent),
// which waits for Run and fails t on its error.
func runProcessor(t *testing.T, p *processor.Processor) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

// waitCommittedToEnd waits until group has committed every partition of
// each topic at its end offset.
func waitCommittedToEnd(t *testing.T, brokers []string, group string, topics ...string) {
	t.Helper()
	adm := kafkatest.Admin(t, brokers)
	kafkatest.Eventually(t, 30*time.Second, "every topic-partition committed at its end", func() bool {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return false
		}
		ends, err := adm.ListEndOffsets(context.Background(), topics...)
		if err != nil {
			return false
		}
		ok := true
		ends.Each(func(e kadm.ListedOffset) {
			if o, found := offs.Lookup(e.Topic, e.Partition); !found || o.At != e.Offset {
				ok = false
			}
		})
		return ok
	})
}

// checkLagEveryTopic waits until the lag monitor reports, for group, every
// partition of each topic (parts gives their counts) at lag 0.
func checkLagEveryTopic(t *testing.T, brokers []string, group string, parts map[string]int) {
	t.Helper()
	cfg := lag.DefaultConfig()
	cfg.Groups = ""
	mon, err := lag.New(kafkatest.Client(t, brokers), cfg, lag.Options{Groups: []string{group}})
	if err != nil {
		t.Fatal(err)
	}
	var last string
	kafkatest.Eventually(t, 30*time.Second, "lag 0 reported for every partition of every topic", func() bool {
		snap, err := mon.Poll(context.Background())
		if err != nil || len(snap.Groups) != 1 {
			last = fmt.Sprintf("poll: %v", err)
			return false
		}
		got := map[string]int{}
		for _, p := range snap.Groups[0].Partitions {
			if p.Lag != 0 || p.Err != "" {
				last = fmt.Sprintf("%s/%d: lag %d, err %q", p.Topic, p.Partition, p.Lag, p.Err)
				return false
			}
			got[p.Topic]++
		}
		last = fmt.Sprint(got)
		for topic, n := range parts {
			if got[topic] != n {
				return false
			}
		}
		return true
	})
	t.Logf("lag per topic: %s", last)
}
