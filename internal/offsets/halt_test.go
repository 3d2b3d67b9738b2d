package offsets

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/processor"
)

// runProcessor runs a processor of group on topic with on_failure=halt,
// failing every record whose value is "poison", and returns the offsets it
// handled successfully, in order, with a stop function that returns once it
// has shut down (committing its finished work).
func runProcessor(t *testing.T, brokers []string, topic, group string, log *kafkatest.LogBuffer) (handled func() []int64, stop func()) {
	t.Helper()
	var mu sync.Mutex
	var seen []int64
	h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
		var errs processor.RecordErrors
		mu.Lock()
		defer mu.Unlock()
		for i, r := range b.Records {
			if string(r.Value) == "poison" {
				errs.Add(i, fmt.Errorf("poison record at offset %d", r.Offset))
				continue
			}
			seen = append(seen, r.Offset)
		}
		return errs.Err()
	})
	cfg := processor.DefaultConfig()
	cfg.Group.ID = group
	cfg.OnFailure = processor.OnFailureHalt
	cfg.Retry = processor.RetryConfig{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	cfg.Commit.Interval = 100 * time.Millisecond
	// One record per batch: the handler never sees records after the poison
	// one in its batch, so what it handled is exactly what was finished.
	cfg.Batch.MaxRecords = 1
	cfg.ShutdownTimeout = 10 * time.Second
	kc := kafka.Config{Brokers: brokers, ClientID: "halt-test", ConnectTimeout: 10 * time.Second}
	p, err := processor.New(kc, topic, cfg, h, processor.Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("processor: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}, stop
}

// TestSkipHaltedAfterRealHalt halts a real processor on a poison record,
// stops it, skips the record with --skip-halted and restarts it: it resumes
// exactly at the record after the poison one, having handled everything
// before it once. A committed transaction precedes the poison record, so
// its commit marker sits between the last good record and the poison one:
// "committed offset + 1" would land on the poison record again for a commit
// that stopped at the marker (the engine commits past it, a group at the
// marker is checked too), and the reset must not depend on where in that
// gap the commit is.
func TestSkipHaltedAfterRealHalt(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, group := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		ctx := context.Background()

		// Offsets 0-5 in a transaction, its commit marker at 6, the poison
		// record at 7, then 8-11.
		tx, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.TransactionalID(kafkatest.Name(t, "tx")), kgo.DefaultProduceTopic(topic))
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Close()
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			if err := tx.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "good %d", i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		pl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.DefaultProduceTopic(topic))
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		// The coordinator writes the commit marker after EndTransaction
		// returns: wait for it, or the poison record could land before it.
		kafkatest.Eventually(t, 30*time.Second, "the transaction's commit marker", func() bool {
			o, err := kadm.NewClient(pl).ListCommittedOffsets(ctx, topic)
			e, ok := o.Lookup(topic, 0)
			return err == nil && ok && e.Offset == 7
		})
		recs := []*kgo.Record{{Value: []byte("poison")}}
		for i := 8; i < 12; i++ {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "good %d", i)})
		}
		if err := pl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if recs[0].Offset != 7 {
			t.Fatalf("poison record at offset %d, want 7 (after the transaction's marker)", recs[0].Offset)
		}

		f := &fixture{brokers: c.Brokers, topic: topic, cl: pl, adm: kadm.NewClient(pl)}

		// A group whose commit stopped at the marker (offset 6) halted on
		// record 7 just the same: committed + 1 would land on the poison
		// record, the next record read from the commit is past it.
		atMarker := f.group(t, map[int32]int64{0: 6})
		if p, err := f.plan(t, atMarker, Target{Kind: SkipHalted}, []int32{0}); err != nil || p.Rows[0].To != 8 {
			t.Fatalf("skip-halted from the marker: %+v, %v; want to 8", p, err)
		}
		var log1 kafkatest.LogBuffer
		handled, stop := runProcessor(t, c.Brokers, topic, group, &log1)
		kafkatest.Eventually(t, 60*time.Second, "the partition to halt and commit up to the poison record", func() bool {
			at, ok := f.committed(t, group)[0]
			return strings.Contains(log1.String(), "partition halted") && ok && at >= 6
		})
		stop()
		if got := handled(); !slices.Equal(got, []int64{0, 1, 2, 3, 4, 5}) {
			t.Fatalf("handled %v before the halt, want 0-5", got)
		}
		if !strings.Contains(log1.String(), "offset=7") {
			t.Fatalf("the halt log line does not name offset 7:\n%s", log1.String())
		}

		st, err := Read(ctx, pl, group, topic, lag.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		// The processor noted the halt in its commit: no --partitions needed.
		if h := st.Partitions[0].Halted; h == nil || h.Offset != 7 || h.Err == "" {
			t.Fatalf("partition 0 halted %+v, want the processor's note of offset 7", h)
		}
		plan, err := Build(ctx, pl, st, topic, Target{Kind: SkipHalted}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Rows) != 1 || plan.Rows[0].Partition != 0 {
			t.Fatalf("skip-halted without partitions planned %+v, want partition 0 only", plan.Rows)
		}
		r := plan.Rows[0]
		t.Logf("halted partition committed at %d; plan moves it to %d (%s)", r.From, r.To, r.Note)
		if r.To != 8 || !strings.Contains(r.Note, "skips record 7") {
			t.Fatalf("skip-halted plan: from %d to %d (%s), want to 8 skipping record 7", r.From, r.To, r.Note)
		}
		if _, err := Apply(ctx, pl, plan, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}

		var log2 kafkatest.LogBuffer
		handled2, stop2 := runProcessor(t, c.Brokers, topic, group, &log2)
		kafkatest.Eventually(t, 60*time.Second, "the restarted processor to reach the end", func() bool {
			return f.committed(t, group)[0] == 12
		})
		stop2()
		if got := handled2(); !slices.Equal(got, []int64{8, 9, 10, 11}) {
			t.Fatalf("handled %v after the skip, want exactly 8-11", got)
		}
		if strings.Contains(log2.String(), "partition halted") {
			t.Fatalf("halted again after the skip:\n%s", log2.String())
		}
	})
}
