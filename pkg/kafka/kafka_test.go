package kafka_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// TestEnsureTopicConcurrently: several processes starting at once all
// create the same topic; every one must succeed and see its partitions
// (regression: "topic still missing after creating it" when a produce and a
// process started together).
func TestEnsureTopicConcurrently(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "t")
		cfg := kafka.Config{Brokers: c.Brokers, ClientID: "ensure", ConnectTimeout: 10 * time.Second}
		tc := kafka.TopicConfig{Name: topic, Partitions: 5, ReplicationFactor: -1, Create: true}
		var wg sync.WaitGroup
		errs := make([]error, 6)
		parts := make([]int, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl, err := kafka.Connect(context.Background(), cfg)
				if err != nil {
					errs[i] = err
					return
				}
				defer cl.Close()
				parts[i], errs[i] = kafka.EnsureTopic(context.Background(), cl, tc, topic)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil || parts[i] != 5 {
				t.Errorf("caller %d: %d partitions, %v", i, parts[i], err)
			}
		}
	})
}

func TestEnsureTopicMissing(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		topic := kafkatest.Name(t, "t")
		_, err = kafka.EnsureTopic(context.Background(), cl, kafka.TopicConfig{Partitions: 1, Create: false}, topic)
		var me *kafka.MissingTopicError
		if !errors.As(err, &me) || me.Topic != topic {
			t.Fatalf("want MissingTopicError, got %v", err)
		}
	})
}

// TestEnsureTopicWaitsForLeaders is the regression test for defect 14 in
// the production path: EnsureTopic, which `veltrix produce` and `veltrix
// process` call at start, must return only once every partition of the
// topic it created has a leader, so a script running `veltrix process`
// right after `veltrix produce` does not race. kfake answers the first
// three metadata requests with partition 2 leaderless.
func TestEnsureTopicWaitsForLeaders(t *testing.T) {
	c := kafkatest.Fake(t)
	topic := kafkatest.Name(t, "t")
	unled := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Partitions: []int32{2},
		Err: kerr.LeaderNotAvailable, Count: 3})
	cfg := kafka.Config{Brokers: c.ListenAddrs(), ClientID: "ensure", ConnectTimeout: 10 * time.Second}
	cl, err := kafka.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n, err := kafka.EnsureTopic(context.Background(), cl, kafka.TopicConfig{Partitions: 4, ReplicationFactor: -1, Create: true}, topic)
	if err != nil || n != 4 {
		t.Fatalf("EnsureTopic: %d partitions, %v", n, err)
	}
	if h := unled.Hits(); h != 3 {
		t.Errorf("EnsureTopic returned after %d of the 3 answers with partition 2 leaderless", h)
	}
}

// TestEnsureTopicReportsTopicError: an error other than
// UNKNOWN_TOPIC_OR_PARTITION (here authorization) is reported, naming the
// topic, rather than taken for a missing topic and answered by creating it.
func TestEnsureTopicReportsTopicError(t *testing.T) {
	c := kafkatest.Fake(t)
	topic := kafkatest.Name(t, "t")
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: kerr.TopicAuthorizationFailed, Count: -1})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = kafka.EnsureTopic(context.Background(), cl, kafka.TopicConfig{Partitions: 1, ReplicationFactor: -1, Create: true}, topic)
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.Contains(err.Error(), topic) {
		t.Fatalf("want TOPIC_AUTHORIZATION_FAILED naming %s, got %v", topic, err)
	}
	if c.TopicInfo(topic) != nil {
		t.Error("EnsureTopic created a topic it was not allowed to describe")
	}
}
