package handler_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/verify"
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
		f := handler.NewForward(cl, out, handler.ForwardConfig{RequireJSON: true})
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
