package processor_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// start runs p until the returned stop is called; stop cancels Run and
// returns its error, failing the test when Run takes longer than limit.
func start(t *testing.T, p *processor.Processor, limit time.Duration) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	var once atomic.Bool
	stop = func() error {
		t.Helper()
		if !once.CompareAndSwap(false, true) {
			return nil
		}
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(limit):
			t.Fatalf("Run did not return within %s of the stop", limit)
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// produceTo writes n records with value size bytes to one partition.
func produceTo(t *testing.T, brokers []string, topic string, part int32, n, size int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: part, Value: []byte(strings.Repeat("x", size))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestDrainDeadlineStopsEveryBusyLane is the regression test for a drain
// deadline that fired for the first busy lane only: with several partitions
// whose handlers outlast processor.shutdown_timeout, shutdown waited without
// limit for the second. Every busy lane must be abandoned at the one deadline.
func TestDrainDeadlineStopsEveryBusyLane(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		for part := range int32(3) {
			produceTo(t, c.Brokers, topic, part, 5, 10)
		}
		var busy atomic.Int64
		unblock := make(chan struct{})
		defer close(unblock)
		h := processor.HandlerFunc(func(context.Context, *processor.Batch) error {
			busy.Add(1)
			<-unblock // ignores ctx: a handler slower than any drain
			return nil
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.ShutdownTimeout = 300 * time.Millisecond
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, h, processor.Options{})
		stop := start(t, p, 5*time.Second)
		kafkatest.Eventually(t, 30*time.Second, "three busy handler calls", func() bool { return busy.Load() == 3 })
		began := time.Now()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("shutdown with 3 busy lanes took %s (shutdown_timeout %s)", time.Since(began), cfg.ShutdownTimeout)
	})
}

// TestTypedNilRecordErrorsIsSuccess is the regression test for a handler
// returning a typed-nil *RecordErrors as its error: the engine dereferenced
// it outside the panic recovery and crashed the process. A *RecordErrors
// that names no record means every record is done.
func TestTypedNilRecordErrorsIsSuccess(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		produce(t, c.Brokers, topic, 30)
		var done atomic.Int64
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			done.Add(int64(len(b.Records)))
			var errs *processor.RecordErrors
			return errs // a typed nil in a non-nil error
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		reg := prometheus.NewRegistry()
		runOne(t, c.Brokers, topic, cfg, h, processor.Options{Metrics: metrics.New(reg)}, func(*processor.Processor) bool { return done.Load() >= 30 })
		if got := counter(t, reg, "veltrix_failed_records_total"); got != 0 {
			t.Fatalf("%v records failed", got)
		}
		if got := counter(t, reg, "veltrix_processed_records_total"); got != 30 {
			t.Fatalf("processed %v, want 30", got)
		}
	})
}

// TestStuckPartitionDoesNotPauseOthers is the regression test for one stuck
// partition pausing the whole instance: once its queue held more than half
// of processor.buffer.max_bytes, the budget never fell under half and no
// partition resumed. A partition with an empty queue must always be fetched.
func TestStuckPartitionDoesNotPauseOthers(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		produceTo(t, c.Brokers, topic, 0, 2000, 100) // ~600 KB queued: over the whole budget
		var other atomic.Int64
		h := processor.HandlerFunc(func(ctx context.Context, b *processor.Batch) error {
			if b.Partition == 0 {
				<-ctx.Done() // stuck until the partition is taken away
				return ctx.Err()
			}
			other.Add(int64(len(b.Records)))
			return nil
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Buffer.MaxBytes = 64 << 10
		cfg.Batch.MaxBytes = cfg.Buffer.MaxBytes // Validate: a full batch must fit the budget
		cfg.Buffer.MaxRecords = 100000
		cfg.ShutdownTimeout = 100 * time.Millisecond
		reg := prometheus.NewRegistry()
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, h, processor.Options{Metrics: metrics.New(reg)})
		stop := start(t, p, 10*time.Second)
		kafkatest.Eventually(t, 30*time.Second, "the stuck partition's queue over the budget", func() bool {
			return gauge(t, reg, "veltrix_buffered_bytes") >= float64(cfg.Buffer.MaxBytes)
		})
		for i := range 5 {
			produceTo(t, c.Brokers, topic, 1, 100, 100)
			want := int64(100 * (i + 1))
			kafkatest.Eventually(t, 30*time.Second, "the other partition's records handled", func() bool { return other.Load() >= want })
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClientOptsCannotReplaceEngineSettings is the regression test for
// Options.ClientOpts being applied last: a user's partition callback or
// offset reset silently replaced the engine's, so lanes were never told of
// assignments (Ready stayed false) and a new group started at the end.
func TestClientOptsCannotReplaceEngineSettings(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		produce(t, c.Brokers, topic, 40)
		var userCalled atomic.Bool
		var done atomic.Int64
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			done.Add(int64(len(b.Records)))
			return nil
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, h, processor.Options{ClientOpts: []kgo.Opt{
			kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { userCalled.Store(true) }),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
			kgo.ClientID("user-id"), // a harmless option still applies
		}})
		stop := start(t, p, 10*time.Second)
		kafkatest.Eventually(t, 30*time.Second, "every record from the start handled", func() bool { return done.Load() >= 40 })
		if !p.Ready() {
			t.Fatal("not ready: the engine's assignment callback was replaced")
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if userCalled.Load() {
			t.Log("note: the user's callback ran (it should have been replaced by the engine's)")
		}
	})
}

// TestCancelOnLastAttemptIsNotAFailure is the regression test for a
// partition taken away while its last attempt ran: the cancellation was
// counted as the record failing, so on_failure=skip skipped it (and halt
// halted a partition no longer owned).
func TestCancelOnLastAttemptIsNotAFailure(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		produce(t, c.Brokers, topic, 1)
		var calls atomic.Int64
		h := processor.HandlerFunc(func(ctx context.Context, b *processor.Batch) error {
			if calls.Add(1) == 1 {
				return errors.New("first attempt fails")
			}
			<-ctx.Done() // the last attempt runs until the partition goes
			return ctx.Err()
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Retry.MaxAttempts = 2
		cfg.OnFailure = "skip"
		cfg.ShutdownTimeout = 100 * time.Millisecond
		reg := prometheus.NewRegistry()
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, h, processor.Options{Metrics: metrics.New(reg)})
		stop := start(t, p, 10*time.Second)
		kafkatest.Eventually(t, 30*time.Second, "the last attempt running", func() bool { return calls.Load() == 2 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := counter(t, reg, "veltrix_failed_records_total"); got != 0 {
			t.Fatalf("%v records counted failed although their partition was taken away mid-attempt", got)
		}
		cm, _ := committed(t, c.Brokers, cfg.Group.ID, topic)
		if cm[0] > 0 {
			t.Fatalf("committed %d past a record that never finished", cm[0])
		}
	})
}

// TestDeadLetterThatCannotBeWrittenHalts is the regression test for dead
// letters retried forever with no metric: a record too large for the
// dead-letter write (here the client's batch limit) must be counted in
// veltrix_dlq_errors_total and halt its partition with a clear error,
// instead of retrying forever.
func TestDeadLetterThatCannotBeWrittenHalts(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		kafkatest.CreateTopic(t, c.Brokers, topic+".dlq", 1)
		produceTo(t, c.Brokers, topic, 0, 3, 3000)
		h := processor.HandlerFunc(func(context.Context, *processor.Batch) error { return errors.New("poison") })
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Retry.MaxAttempts = 2
		cfg.OnFailure = "dlq"
		reg := prometheus.NewRegistry()
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, h, processor.Options{Metrics: metrics.New(reg),
			ClientOpts: []kgo.Opt{kgo.ProducerBatchMaxBytes(2048)}})
		stop := start(t, p, 10*time.Second)
		kafkatest.Eventually(t, 30*time.Second, "the partition halted", func() bool {
			return gauge(t, reg, "veltrix_halted_partitions") == 1
		})
		if got := counter(t, reg, "veltrix_dlq_errors_total"); got < 1 {
			t.Fatalf("dlq errors = %v, want ≥ 1", got)
		}
		if got := counterWith(t, reg, "veltrix_failed_records_total", "outcome", "halt"); got != 1 {
			t.Fatalf("halted records = %v, want 1", got)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := gauge(t, reg, "veltrix_halted_partitions"); got != 0 {
			t.Fatalf("halted gauge %v after shutdown released the partition", got)
		}
	})
}

// TestSharedStaticMembershipIDIsFenced: two replicas that share one
// processor.group.instance_id must not both run; the coordinator fences
// the older one, whose Run returns ErrFenced instead of carrying on.
func TestSharedStaticMembershipIDIsFenced(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "g")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		cfg := testConfig(group)
		cfg.Group.InstanceID = "replica-0"
		a := mustNew(t, kcfg(c.Brokers, "a"), topic, cfg, processor.HandlerFunc(func(context.Context, *processor.Batch) error { return nil }), processor.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errA := make(chan error, 1)
		go func() { errA <- a.Run(ctx) }()
		kafkatest.Eventually(t, 30*time.Second, "the first replica assigned", func() bool { return len(a.Assigned()) == 2 })
		b := mustNew(t, kcfg(c.Brokers, "b"), topic, cfg, processor.HandlerFunc(func(context.Context, *processor.Batch) error { return nil }), processor.Options{})
		stopB := start(t, b, 10*time.Second)
		select {
		case err := <-errA:
			if !errors.Is(err, processor.ErrFenced) {
				t.Fatalf("the fenced replica's Run returned %v, want ErrFenced", err)
			}
			t.Logf("fenced: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("the older replica kept running next to a replica with the same instance id")
		}
		if err := stopB(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestTransactionalInputReadCommitted is the regression test for reading
// uncommitted data: the processor set no isolation level, so records of
// aborted transactions reached the handler, and an idle group stopped one
// short of the end (the commit marker), showing lag 1. Now only committed
// records are handled and the committed offset moves past the markers.
func TestTransactionalInputReadCommitted(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.TransactionalID(kafkatest.Name(t, "tx")), kgo.DefaultProduceTopic(topic))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx := context.Background()
		for i, commit := range []bool{true, false, true} {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			for j := range 5 {
				value := []byte("committed")
				if !commit {
					value = []byte("aborted")
				}
				if err := cl.ProduceSync(ctx, &kgo.Record{Value: value, Key: []byte{byte(i), byte(j)}}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
				t.Fatal(err)
			}
		}
		var handled, aborted atomic.Int64
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			for _, r := range b.Records {
				if string(r.Value) != "committed" {
					aborted.Add(1)
				}
			}
			handled.Add(int64(len(b.Records)))
			return nil
		})
		cfg := testConfig(kafkatest.Name(t, "g"))
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, h, processor.Options{})
		stop := start(t, p, 10*time.Second)
		adm := kafkatest.Admin(t, c.Brokers)
		kafkatest.Eventually(t, 30*time.Second, "the committed offset at the end of the log", func() bool {
			offs, err := adm.FetchOffsets(ctx, cfg.Group.ID)
			if err != nil {
				return false // the group has not committed yet
			}
			ends, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				return false
			}
			cm, _ := offs.Lookup(topic, 0)
			end, _ := ends.Lookup(topic, 0)
			return cm.At > 0 && cm.At == end.Offset
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if handled.Load() != 10 || aborted.Load() != 0 {
			t.Fatalf("handled %d records, %d of them aborted; want the 10 committed only", handled.Load(), aborted.Load())
		}
	})
}

// TestDeadLetterRetryAfterDeliveryTimeout is the regression test for the
// dead-letter writer reusing one record across attempts: the client stamps
// the record's timestamp on its first produce and counts the delivery
// timeout from it, so once the first attempt had timed out every retry
// failed at once, even after the brokers accepted writes again. Fault
// injection needs the fake cluster, so it runs there only.
func TestDeadLetterRetryAfterDeliveryTimeout(t *testing.T) {
	fake := kafkatest.Fake(t)
	brokers := fake.ListenAddrs()
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, brokers, topic, 1)
	kafkatest.CreateTopic(t, brokers, topic+".dlq", 1)
	produceTo(t, brokers, topic, 0, 1, 10)
	// Refuse every write (the only writer from here on is the dead-letter
	// writer) until the first attempt has failed with the delivery timeout.
	var refuse atomic.Bool
	refuse.Store(true)
	fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		if !refuse.Load() {
			return nil, nil, false
		}
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	h := processor.HandlerFunc(func(context.Context, *processor.Batch) error { return errors.New("poison") })
	cfg := testConfig(kafkatest.Name(t, "g"))
	cfg.Retry.MaxAttempts = 3
	cfg.Retry.InitialBackoff = 1500 * time.Millisecond // past the 1 s delivery timeout
	cfg.Retry.MaxBackoff = 1500 * time.Millisecond
	cfg.OnFailure = "dlq"
	reg := prometheus.NewRegistry()
	p := mustNew(t, kcfg(brokers, "solo"), topic, cfg, h, processor.Options{Metrics: metrics.New(reg),
		ClientOpts: []kgo.Opt{kgo.RecordDeliveryTimeout(time.Second)}})
	stop := start(t, p, 10*time.Second)
	kafkatest.Eventually(t, 30*time.Second, "the first dead-letter attempt failed", func() bool {
		return counter(t, reg, "veltrix_dlq_errors_total") >= 1
	})
	refuse.Store(false)
	kafkatest.Eventually(t, 30*time.Second, "the dead letter written or the partition halted", func() bool {
		return counterWith(t, reg, "veltrix_failed_records_total", "outcome", "dlq")+
			counterWith(t, reg, "veltrix_failed_records_total", "outcome", "halt") > 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := counterWith(t, reg, "veltrix_failed_records_total", "outcome", "dlq"); got != 1 {
		t.Fatalf("dead letters written = %v, want 1 (dlq errors %v): a retry after the brokers recovered must succeed",
			got, counter(t, reg, "veltrix_dlq_errors_total"))
	}
	if got := counter(t, reg, "veltrix_dlq_errors_total"); got < 1 {
		t.Fatalf("dlq errors = %v, want the refused first attempt counted", got)
	}
}
