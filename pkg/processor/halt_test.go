package processor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestHaltNoteCommitted: a halted partition is committed at the record it
// halted on with a note in the commit metadata naming the offset, the
// attempts and the error, so tools outside the member see the halt. Both
// ways a lane reaches the halt are covered: after finishing records before
// the poison one, and with the poison record as the first it ever sees
// (the restart of a halted member).
func TestHaltNoteCommitted(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		group := kafkatest.Name(t, "g")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		produceTo(t, c.Brokers, topic, 0, 6, 10)
		const poison = 3
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			var errs processor.RecordErrors
			for i, r := range b.Records {
				if r.Offset == poison {
					errs.Add(i, errors.New("value is not JSON"))
				}
			}
			return errs.Err()
		})
		cfg := testConfig(group)
		cfg.OnFailure = processor.OnFailureHalt
		cfg.Retry.MaxAttempts = 2
		cfg.Retry.InitialBackoff = time.Millisecond
		cfg.Retry.MaxBackoff = time.Millisecond
		cfg.Commit.Interval = 50 * time.Millisecond

		adm, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer adm.Close()
		note := func() (kadm.OffsetResponse, bool) {
			resp, err := kadm.NewClient(adm).FetchOffsets(context.Background(), group)
			if err != nil {
				return kadm.OffsetResponse{}, false
			}
			o, ok := resp.Lookup(topic, 0)
			return o, ok && o.At == poison && o.Metadata != ""
		}
		for _, run := range []string{"first", "restart"} {
			p := mustNew(t, kcfg(c.Brokers, "halt-"+run), topic, cfg, h, processor.Options{})
			stop := start(t, p, 10*time.Second)
			kafkatest.Eventually(t, 30*time.Second, run+": the halt committed with its note", func() bool {
				_, ok := note()
				return ok
			})
			o, _ := note()
			got, ok := processor.ParseHaltNote(o.Metadata)
			if !ok || got.Offset != poison || got.Attempts != 2 || got.Err != "value is not JSON" || got.Since.IsZero() {
				t.Fatalf("%s: metadata %q parsed as %+v (ok %v)", run, o.Metadata, got, ok)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			// Reset the note so the restart must write its own.
			if run == "first" {
				os := make(kadm.Offsets)
				os.Add(kadm.Offset{Topic: topic, Partition: 0, At: poison, LeaderEpoch: -1})
				if err := kadm.NewClient(adm).CommitAllOffsets(context.Background(), group, os); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func TestHaltNoteRoundTrip(t *testing.T) {
	h := processor.Halt{Offset: 42, Attempts: 3, Err: "bad: key= value with spaces", Since: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	got, ok := processor.ParseHaltNote(processor.HaltNote(h))
	if !ok || got != h {
		t.Fatalf("round trip %+v (ok %v), want %+v", got, ok, h)
	}
	for _, meta := range []string{"", "some other client's metadata", "veltrix:halted offset=x attempts=1 since=2026-12-01T09:00:00Z err=e"} {
		if _, ok := processor.ParseHaltNote(meta); ok {
			t.Errorf("%q parsed as a halt note", meta)
		}
	}
}
