package processor_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestBatchCommitRetriedWithoutNewRecords is the regression test for a
// batch-mode commit that failed (a rebalance in progress answers
// REBALANCE_IN_PROGRESS) and was never tried again: batch mode committed
// only after the next batch, so a partition that received no more records
// kept its finished work uncommitted until shutdown — the model test found
// it after a rejoin under cooperative-sticky kept the partition with its
// member. Fault injection needs the fake cluster, so it runs there only.
func TestBatchCommitRetriedWithoutNewRecords(t *testing.T) {
	fake := kafkatest.Fake(t)
	brokers := fake.ListenAddrs()
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, brokers, topic, 1)
	produceTo(t, brokers, topic, 0, 10, 10)
	// Refuse the first commit only.
	var refused atomic.Bool
	fake.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		if refused.Swap(true) {
			return nil, nil, false
		}
		return commitRefusal(req, kerr.RebalanceInProgress), nil, true
	})
	group := kafkatest.Name(t, "g")
	cfg := testConfig(group)
	cfg.Commit.Mode = processor.CommitBatch
	cfg.Commit.Interval = 100 * time.Millisecond
	cfg.Batch.MaxRecords = 100
	var handled atomic.Int64
	h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
		handled.Add(int64(len(b.Records)))
		return nil
	})
	p := mustNew(t, kcfg(brokers, "solo"), topic, cfg, h, processor.Options{})
	stop := start(t, p, 10*time.Second)
	defer func() { _ = stop() }()
	kafkatest.Eventually(t, 10*time.Second, "every record handled", func() bool { return handled.Load() == 10 })
	// The handler returns before the commit of its work is sent: wait for
	// the refusal instead of expecting it already (it raced under -race).
	kafkatest.Eventually(t, 10*time.Second, "a commit refused (the injected fault)", refused.Load)
	// No record arrives any more: the finished work must still be committed.
	kafkatest.Eventually(t, 10*time.Second, "the finished offset committed again after the refused commit", func() bool {
		got, _ := committed(t, brokers, group, topic)
		return got[0] == 10
	})
}

// commitRefusal answers an OffsetCommit request with err for every
// partition, as a coordinator refusing the commit does.
func commitRefusal(req kmsg.Request, err *kerr.Error) *kmsg.OffsetCommitResponse {
	cr := req.(*kmsg.OffsetCommitRequest)
	resp := cr.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range cr.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = err.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
