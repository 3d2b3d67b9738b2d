package kafka_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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
