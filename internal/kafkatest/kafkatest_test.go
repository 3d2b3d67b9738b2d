package kafkatest_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestCreateTopicWaitsUntilVisible is the regression test for defect 14
// (TestPlanLiveTopic/kafka failing on a loaded machine): a topic just
// created may be missing from the next client's metadata, or have
// partitions without a leader. kfake withholds the topic from the first
// three metadata answers that name it and leaves partition 1 leaderless in
// the next two; CreateTopic must return only after all five, so that a
// fresh client's first, uncached metadata request finds every partition led.
func TestCreateTopicWaitsUntilVisible(t *testing.T) {
	c := kafkatest.Fake(t)
	topic := kafkatest.Name(t, "t")
	meta := []kmsg.Key{kmsg.Metadata}
	hidden := c.Fault(kfake.Fault{Keys: meta, Topic: topic, Err: kerr.UnknownTopicOrPartition, Count: 3})
	unled := c.Fault(kfake.Fault{Keys: meta, Topic: topic, Partitions: []int32{1}, Err: kerr.LeaderNotAvailable, Count: 2})

	kafkatest.CreateTopic(t, c.ListenAddrs(), topic, 3)

	if h, u := hidden.Hits(), unled.Hits(); h != 3 || u != 2 {
		t.Errorf("CreateTopic returned after %d of 3 answers without the topic and %d of 2 with partition 1 leaderless", h, u)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 {
		t.Fatalf("metadata answered %d topics", len(resp.Topics))
	}
	got := resp.Topics[0]
	if err := kerr.ErrorForCode(got.ErrorCode); err != nil || len(got.Partitions) != 3 {
		t.Fatalf("a fresh client sees topic %s with %d partitions, error %v", topic, len(got.Partitions), err)
	}
	for _, p := range got.Partitions {
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil || p.Leader < 0 {
			t.Errorf("partition %d: leader %d, error %v", p.Partition, p.Leader, err)
		}
	}
}
