package processor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestExactlyOnceTransactionEndsWithoutNewRecords: under exactly_once a
// transaction ends at its interval even when no record arrives after the
// ones it holds, so their output becomes visible to read_committed readers
// and their offsets commit. The poll loop used to end transactions only
// after a poll returned, and a poll waits for records: once the input was
// all fetched, the last transaction stayed open for ever (the exactly_once
// crash and zombie tests stalled on it). The interval is longer than the
// group join, so the records come in the first transaction's first poll.
func TestExactlyOnceTransactionEndsWithoutNewRecords(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		const n = 10
		in, out, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "out"), kafkatest.Name(t, "g")
		kafkatest.CreateTopic(t, c.Brokers, in, 1)
		kafkatest.CreateTopic(t, c.Brokers, out, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: in, Value: []byte{byte('a' + i)}}
		}
		if err := kafkatest.Client(t, c.Brokers).ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(group)
		cfg.Guarantee = processor.ExactlyOnce
		cfg.Transaction.Interval, cfg.Transaction.Timeout = 8*time.Second, 30*time.Second
		h := processor.HandlerFunc(func(ctx context.Context, b *processor.Batch) error {
			cl := processor.TransactClient(ctx)
			if cl == nil {
				return errors.New("no transactional client under exactly_once")
			}
			outs := make([]*kgo.Record, len(b.Records))
			for i, r := range b.Records {
				outs[i] = &kgo.Record{Topic: out, Value: r.Value}
			}
			return cl.ProduceSync(ctx, outs...).FirstErr()
		})
		p := mustNew(t, kcfg(c.Brokers, "eos"), in, cfg, h, processor.Options{})
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		kafkatest.Eventually(t, 25*time.Second, "the output committed", func() bool {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			defer rcancel()
			got, err := verify.ReadTopic(rctx, out, func(*kgo.Record) {}, kgo.SeedBrokers(c.Brokers...))
			return err == nil && got == n
		})
		comm, _ := committed(t, c.Brokers, group, in)
		if comm[0] != n {
			t.Errorf("committed offset %d, want %d (with the output, in the transaction)", comm[0], n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}
