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
