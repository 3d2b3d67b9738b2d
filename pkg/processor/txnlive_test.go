package processor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestExactlyOnceLiveWhileTransactionEndWaits is the regression test for a
// liveness probe that failed while a transaction's end waited on its
// coordinator: the poll loop ends transactions, and the end counted as one
// poll handled for too long, so past processor.group.rebalance_timeout
// /healthz failed — in a broker-kill run every exactly_once member reported
// itself wedged for 8–12.5 s while the transaction coordinator moved, and
// Kubernetes would have restarted them all during the outage. The end is
// bounded by processor.transaction.timeout; only past that bound may it
// count. The fake cluster answers EndTxn with CONCURRENT_TRANSACTIONS
// (franz-go retries it) for three rebalance timeouts.
func TestExactlyOnceLiveWhileTransactionEndWaits(t *testing.T) {
	fake := kafkatest.Fake(t)
	c := kafkatest.Cluster{Name: "embedded", Brokers: fake.ListenAddrs()}
	const n = 10
	in, out, group := eosInput(t, c, n)
	const stall = 3 * time.Second
	var stallFrom atomic.Int64 // unix nanos of the first EndTxn
	fake.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		now := time.Now().UnixNano()
		stallFrom.CompareAndSwap(0, now)
		if now-stallFrom.Load() > int64(stall) {
			return nil, nil, false
		}
		resp := req.(*kmsg.EndTxnRequest).ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.ConcurrentTransactions.Code
		return resp, nil, true
	})
	cfg := testConfig(group)
	cfg.Guarantee = processor.ExactlyOnce
	cfg.Group.RebalanceTimeout = time.Second
	cfg.Transaction.Interval, cfg.Transaction.Timeout = 100*time.Millisecond, 20*time.Second
	h := processor.HandlerFunc(func(ctx context.Context, b *processor.Batch) error {
		outs := make([]*kgo.Record, len(b.Records))
		for i, r := range b.Records {
			outs[i] = &kgo.Record{Topic: out, Value: r.Value}
		}
		return processor.TransactClient(ctx).ProduceSync(ctx, outs...).FirstErr()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := mustNew(t, kcfg(c.Brokers, "eos-live"), in, cfg, h, processor.Options{})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	kafkatest.Eventually(t, 20*time.Second, "a transaction's end refused", func() bool { return stallFrom.Load() != 0 })
	for time.Since(time.Unix(0, stallFrom.Load())) < stall+500*time.Millisecond {
		if err := p.Live(); err != nil {
			t.Fatalf("Live while the transaction's end waited %s on its coordinator: %v",
				time.Since(time.Unix(0, stallFrom.Load())).Round(time.Millisecond), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kafkatest.Eventually(t, 20*time.Second, "the output committed", func() bool {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		got, err := verify.ReadTopic(rctx, out, func(*kgo.Record) {}, kgo.SeedBrokers(c.Brokers...))
		return err == nil && got == n
	})
	if err := p.Live(); err != nil {
		t.Errorf("Live after the end: %v", err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
}
