package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestReadTopicReportsTopicError: an error the cluster gives for the topic
// fails the read, naming the topic, whether it says the topic is missing or
// something else; a verify never reads an erroring topic as empty.
func TestReadTopicReportsTopicError(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.UnknownTopicOrPartition, kerr.LeaderNotAvailable, kerr.TopicAuthorizationFailed} {
		t.Run(e.Message, func(t *testing.T) {
			c := kafkatest.Fake(t)
			topic := kafkatest.Name(t, "in")
			kafkatest.CreateTopic(t, c.ListenAddrs(), topic, 2)
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: e, Count: -1})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			n, err := ReadTopic(ctx, topic, func(*kgo.Record) {}, kgo.SeedBrokers(c.ListenAddrs()...))
			if !errors.Is(err, e) || !strings.Contains(err.Error(), topic) {
				t.Fatalf("read %d records, error %v; want %s naming %s", n, err, e.Message, topic)
			}
		})
	}
}

// TestCheckTopicsNamesMissing: CheckTopics names every missing topic and
// passes the ones that exist, on both clusters.
func TestCheckTopicsNamesMissing(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		have, miss1, miss2 := kafkatest.Name(t, "in"), kafkatest.Name(t, "out"), kafkatest.Name(t, "dlq")
		kafkatest.CreateTopic(t, c.Brokers, have, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
		if err := CheckTopics(ctx, []string{have}, opts...); err != nil {
			t.Fatalf("existing topic: %v", err)
		}
		err := CheckTopics(ctx, []string{have, miss1, miss2}, opts...)
		if err == nil || !strings.Contains(err.Error(), miss1) || !strings.Contains(err.Error(), miss2) || strings.Contains(err.Error(), have) ||
			!errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("CheckTopics = %v, want UNKNOWN_TOPIC_OR_PARTITION naming %s and %s only", err, miss1, miss2)
		}
	})
}
