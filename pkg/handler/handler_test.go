package handler_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

func batch(values ...string) *processor.Batch {
	b := &processor.Batch{Topic: "in", Partition: 2}
	for i, v := range values {
		b.Records = append(b.Records, &kgo.Record{Topic: "in", Partition: 2, Offset: int64(i), Key: []byte("k"), Value: []byte(v),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}, Timestamp: time.Unix(1700000000, 0)})
	}
	return b
}

func TestNew(t *testing.T) {
	for _, name := range []string{"noop", "simulate"} {
		if _, err := handler.New(handler.Config{Name: name}, handler.Deps{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := handler.New(handler.Config{Name: "forward"}, handler.Deps{}); err == nil {
		t.Error("forward without a producer accepted")
	}
	if _, err := handler.New(handler.Config{Name: "nope"}, handler.Deps{}); err == nil {
		t.Error("unknown handler accepted")
	}
}

func TestLog(t *testing.T) {
	var out bytes.Buffer
	if err := handler.NewLog(&out).Handle(context.Background(), batch("a", "b")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "in/2@0 key=\"k\" value=\"a\"\nin/2@1 key=\"k\" value=\"b\"\n" {
		t.Fatalf("got %q", got)
	}
}

func TestSimulateFailsTheSameRecordsEveryTime(t *testing.T) {
	s := handler.NewSimulate(handler.SimulateConfig{FailureRate: 0.3})
	var values []string
	for i := range 1000 {
		values = append(values, strings.Repeat("x", i%17)+string(rune('a'+i%26))+strings.Repeat("y", i))
	}
	b := batch(values...)
	first := s.Handle(context.Background(), b)
	second := s.Handle(context.Background(), b)
	var e1, e2 *processor.RecordErrors
	if !errors.As(first, &e1) || !errors.As(second, &e2) {
		t.Fatalf("want RecordErrors, got %v / %v", first, second)
	}
	if len(e1.Errs) != len(e2.Errs) || len(e1.Errs) < 200 || len(e1.Errs) > 400 {
		t.Fatalf("failed %d then %d of 1000 at rate 0.3", len(e1.Errs), len(e2.Errs))
	}
	for i := range e1.Errs {
		if _, ok := e2.Errs[i]; !ok {
			t.Fatalf("record %d failed once but not twice", i)
		}
	}
	// Delay honours ctx.
	slow := handler.NewSimulate(handler.SimulateConfig{BatchDelay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := slow.Handle(ctx, batch("a")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// TestForward writes a batch with one non-JSON record: the good records are
// forwarded with key, headers and timestamp; the bad one is reported alone.
func TestForward(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		out := kafkatest.Name(t, "out")
		kafkatest.CreateTopic(t, c.Brokers, out, 1)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		f, err := handler.NewForward(cl, out, handler.ForwardConfig{RequireJSON: true}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		err = f.Handle(context.Background(), batch(`{"a":1}`, `not json`, `{"b":2}`))
		var re *processor.RecordErrors
		if !errors.As(err, &re) || len(re.Errs) != 1 || !errors.Is(re.Errs[1], handler.ErrNotJSON) {
			t.Fatalf("want record 1 to fail as not JSON, got %v", err)
		}
		var got []*kgo.Record
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := verify.ReadTopic(ctx, out, func(r *kgo.Record) { got = append(got, r) }, kgo.SeedBrokers(c.Brokers...)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || string(got[0].Value) != `{"a":1}` || string(got[1].Value) != `{"b":2}` {
			t.Fatalf("forwarded %d records", len(got))
		}
		r := got[0]
		if string(r.Key) != "k" || len(r.Headers) != 1 || r.Headers[0].Key != "h" || !r.Timestamp.Equal(time.Unix(1700000000, 0)) {
			t.Fatalf("key, headers or timestamp not kept: %+v", r)
		}
	})
}

// TestForwardNeedsClientWithoutRecordTimeout: a client with franz-go's record
// delivery timeout, counted from the timestamps forward keeps, is refused.
func TestForwardNeedsClientWithoutRecordTimeout(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.RecordDeliveryTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := handler.New(handler.Config{Name: "forward", OutputTopic: "out"}, handler.Deps{Producer: cl}); err == nil {
		t.Fatal("forward accepted a client with a record delivery timeout")
	}
	cl2, err := kgo.NewClient(append(producer.ForwardClientOptions(config.Default().Producer), kgo.SeedBrokers("127.0.0.1:1"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if _, err := handler.New(handler.Config{Name: "forward", OutputTopic: "out"}, handler.Deps{Producer: cl2}); err != nil {
		t.Fatalf("forward refused a client built with producer.ForwardClientOptions: %v", err)
	}
}

// TestForwardDeliveryTimeoutCountsFromTheCall forwards records stamped
// hours ago to a broker that refuses every produce with a retriable error
// that says nothing was written (NOT_ENOUGH_REPLICAS; after REQUEST_TIMED_OUT
// an idempotent client rightly keeps retrying, deadline or not): each record
// fails with the delivery deadline, reached no sooner than the delivery
// timeout after the call began, not at once for its old timestamp.
func TestForwardDeliveryTimeoutCountsFromTheCall(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	pc := config.Default().Producer
	// The refused batch waits for a metadata refresh before its retry, and
	// franz-go checks deadlines only around requests: a short minimum
	// metadata age keeps the test near the deadline.
	cl, err := kgo.NewClient(append(producer.ForwardClientOptions(pc), kgo.SeedBrokers(c.ListenAddrs()...), kgo.MetadataMinAge(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const timeout = 500 * time.Millisecond
	f, err := handler.NewForward(cl, "out", handler.ForwardConfig{}, timeout)
	if err != nil {
		t.Fatal(err)
	}
	b := batch("a", "b", "c")
	for _, r := range b.Records {
		r.Timestamp = time.Now().Add(-3 * time.Hour)
	}
	start := time.Now()
	err = f.Handle(context.Background(), b)
	took := time.Since(start)
	var re *processor.RecordErrors
	if !errors.As(err, &re) || len(re.Errs) != 3 {
		t.Fatalf("want all 3 records to fail, got %v", err)
	}
	for i, e := range re.Errs {
		if !errors.Is(e, context.DeadlineExceeded) {
			t.Errorf("record %d: %v, want the delivery deadline", i, e)
		}
	}
	if took < timeout || took > timeout+5*time.Second {
		t.Fatalf("failed after %s, want the delivery timeout (%s) from the call", took, timeout)
	}
}

// TestSimulateHangsOneCall: with hang_call=2 the second call hangs past its
// context's end, and only that one.
func TestSimulateHangsOneCall(t *testing.T) {
	s := handler.NewSimulate(handler.SimulateConfig{HangCall: 2})
	if err := s.Handle(context.Background(), batch("a")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan struct{})
	go func() {
		_ = s.Handle(ctx, batch("b"))
		close(returned)
	}()
	cancel()
	select {
	case <-returned:
		t.Fatal("the hanging call returned when its context was cancelled")
	case <-time.After(100 * time.Millisecond):
	}
	if err := s.Handle(context.Background(), batch("c")); err != nil {
		t.Fatal(err)
	}
}

// TestSimulateForward: with forward, simulate writes exactly the records it
// did not fail to the output topic, and reports the failed ones by their
// index in the original batch.
func TestSimulateForward(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		out := kafkatest.Name(t, "out")
		kafkatest.CreateTopic(t, c.Brokers, out, 1)
		cl := kafkatest.Client(t, c.Brokers)
		cfg := handler.SimulateConfig{FailureRate: 0.5, Forward: true}
		h, err := handler.New(handler.Config{Name: "simulate", OutputTopic: out, Simulate: cfg}, handler.Deps{Producer: cl})
		if err != nil {
			t.Fatal(err)
		}
		var values []string
		for i := range 40 {
			values = append(values, strings.Repeat("v", i+1))
		}
		b := batch(values...)
		err = h.Handle(context.Background(), b)
		var re *processor.RecordErrors
		if !errors.As(err, &re) {
			t.Fatalf("want RecordErrors, got %v", err)
		}
		want := map[string]bool{}
		probe := handler.NewSimulate(cfg)
		for i, r := range b.Records {
			_, failed := re.Errs[i]
			if failed != probe.Poisoned(r.Key, r.Value) {
				t.Fatalf("record %d: failed %v, poisoned %v", i, failed, !failed)
			}
			if !failed {
				want[string(r.Value)] = true
			}
		}
		got := map[string]bool{}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := verify.ReadTopic(ctx, out, func(r *kgo.Record) { got[string(r.Value)] = true }, kgo.SeedBrokers(c.Brokers...)); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(want) == 0 || len(want) == len(values) {
			t.Fatalf("forwarded %d records, want the %d good ones of %d", len(got), len(want), len(values))
		}
		for v := range want {
			if !got[v] {
				t.Fatalf("good record %q not forwarded", v)
			}
		}
	})
	if _, err := handler.New(handler.Config{Name: "simulate", Simulate: handler.SimulateConfig{Forward: true}}, handler.Deps{}); err == nil {
		t.Error("simulate with forward and no producer accepted")
	}
}
