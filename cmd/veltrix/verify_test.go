package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestVerifyRefusesToCheckNothing: veltrix verify over an input whose
// records carry no identity headers, or malformed ones, exits 1 and says it
// checked nothing; it used to report 0 lost and exit 0 (issue 17).
func TestVerifyRefusesToCheckNothing(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		in, out := kafkatest.Name(t, "in"), kafkatest.Name(t, "out")
		kafkatest.CreateTopic(t, c.Brokers, in, 1)
		kafkatest.CreateTopic(t, c.Brokers, out, 1)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		recs := []*kgo.Record{
			{Topic: in, Value: []byte("plain")},
			{Topic: in, Value: []byte("bad seq"), Headers: []kgo.RecordHeader{{Key: "veltrix-producer", Value: []byte("p")}, {Key: "veltrix-seq", Value: []byte("x")}}},
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		r := veltrix(t, 60*time.Second, "", "verify", "--brokers", strings.Join(c.Brokers, ","), "--input", in, "--output", out)
		if r.code != 1 || !strings.Contains(r.stderr, "verify checked nothing") || !strings.Contains(r.stderr, "1 had malformed") {
			t.Fatalf("exit %d, want 1 saying it checked nothing\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestVerifyMissingOutputBeforeInput: a missing output topic is reported,
// naming it, before the input is read (issue 17: it was reported after
// reading the whole input).
func TestVerifyMissingOutputBeforeInput(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		in, out := kafkatest.Name(t, "in"), kafkatest.Name(t, "missing-out")
		kafkatest.CreateTopic(t, c.Brokers, in, 1)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: in, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		r := veltrix(t, 60*time.Second, "", "verify", "--brokers", strings.Join(c.Brokers, ","), "--input", in, "--output", out)
		if r.code == 0 || !strings.Contains(r.stderr, out) || strings.Contains(r.stderr, "records from "+in) {
			t.Fatalf("exit %d, want non-zero naming %s before reading %s\nstderr: %s", r.code, out, in, r.stderr)
		}
	})
}
