package processor_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/veltrix/veltrix/internal/event"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// recorder is a handler that remembers every event it saw and checks that
// offsets arrive in order within each partition.
type recorder struct {
	mu       sync.Mutex
	seen     map[event.ID]int
	lastOff  map[int32]int64
	disorder int
	inner    processor.Handler
}

func newRecorder(inner processor.Handler) *recorder {
	return &recorder{seen: map[event.ID]int{}, lastOff: map[int32]int64{}, inner: inner}
}

func (r *recorder) Handle(ctx context.Context, b *processor.Batch) error {
	if r.inner != nil {
		if err := r.inner.Handle(ctx, b); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range b.Records {
		r.lastOff[b.Partition] = rec.Offset
		id, ok := event.Of(rec)
		if ok {
			r.seen[id]++
		}
	}
	for i := 1; i < len(b.Records); i++ {
		if b.Records[i].Offset <= b.Records[i-1].Offset {
			r.disorder++
		}
	}
	return nil
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func produce(t *testing.T, brokers []string, topic string, n int) string {
	t.Helper()
	return produceWith(t, brokers, topic, n, nil)
}

// produceWith is produce with producer settings changed by tune.
func produceWith(t *testing.T, brokers []string, topic string, n int, tune func(*producer.Config)) string {
	t.Helper()
	pc, gc := producer.DefaultConfig(), generate.DefaultConfig()
	gc.Rate, gc.Count, gc.ID = 0, n, "test-"+topic
	if tune != nil {
		tune(&pc)
	}
	cl, err := kafka.Connect(context.Background(), kafka.Config{Brokers: brokers, ClientID: "test-producer", ConnectTimeout: 10 * time.Second},
		producer.ClientOptions(pc)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	res, err := generate.NewGenerator(cl, topic, gc, generate.Options{FlushTimeout: pc.DeliveryTimeout}).Run(context.Background())
	if err != nil || res.Acked != int64(n) {
		t.Fatalf("produced %+v, err %v", res, err)
	}
	return gc.ID
}

// mustNew is processor.New for tests: a configuration it rejects fails t.
func mustNew(t testing.TB, kc kafka.Config, topic string, cfg processor.Config, h processor.Handler, opts processor.Options) *processor.Processor {
	t.Helper()
	p, err := processor.New(kc, topic, cfg, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testConfig(group string) processor.Config {
	c := processor.DefaultConfig()
	// No handler timeout unless a test sets one, as before the timeout
	// moved from Options into Config.
	c.HandlerTimeout = 0
	c.Group.ID = group
	c.Group.SessionTimeout = 6 * time.Second
	c.Group.HeartbeatInterval = 500 * time.Millisecond
	c.Commit.Interval = 100 * time.Millisecond
	c.Fetch.MaxWait = 100 * time.Millisecond
	c.Retry.InitialBackoff = time.Millisecond
	c.Retry.MaxBackoff = 10 * time.Millisecond
	return c
}

func kcfg(brokers []string, id string) kafka.Config {
	return kafka.Config{Brokers: brokers, ClientID: id, ConnectTimeout: 10 * time.Second}
}

// committed returns the group's committed offsets and the topic's end
// offsets, by partition.
func committed(t *testing.T, brokers []string, group, topic string) (map[int32]int64, map[int32]int64) {
	t.Helper()
	ctx := context.Background()
	adm := kafkatest.Admin(t, brokers)
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	c, e := map[int32]int64{}, map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) { c[o.Partition] = o.At })
	ends.Each(func(o kadm.ListedOffset) { e[o.Partition] = o.Offset })
	return c, e
}

func TestGroupOfTwoProcessesEveryEvent(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		const n = 20000
		topic, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "g")
		kafkatest.CreateTopic(t, c.Brokers, topic, 6)
		pid := produce(t, c.Brokers, topic, n)

		rec := newRecorder(handler.Noop{})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		procs := make([]*processor.Processor, 2)
		errs := make([]error, 2)
		for i := range procs {
			procs[i] = mustNew(t, kcfg(c.Brokers, fmt.Sprintf("member-%d", i)), topic, testConfig(group), rec, processor.Options{})
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = procs[i].Run(ctx) }()
		}
		kafkatest.Eventually(t, 60*time.Second, "every event processed", func() bool { return rec.distinct() == n })
		kafkatest.Eventually(t, 30*time.Second, "both members assigned", func() bool {
			return len(procs[0].Assigned()) > 0 && len(procs[1].Assigned()) > 0
		})
		cancel()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
		}
		for s := uint64(0); s < n; s++ {
			if rec.seen[event.ID{Producer: pid, Seq: s}] == 0 {
				t.Fatalf("event %d never processed", s)
			}
		}
		if rec.disorder != 0 {
			t.Fatalf("%d out-of-order records within batches", rec.disorder)
		}
		comm, ends := committed(t, c.Brokers, group, topic)
		for part, end := range ends {
			if comm[part] != end {
				t.Errorf("partition %d: committed %d, end %d", part, comm[part], end)
			}
		}
	})
}
