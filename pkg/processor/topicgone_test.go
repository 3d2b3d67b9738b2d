package processor_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestRecreatedTopicEndsRunWithoutSpinning is the regression test for a
// processor whose input topic was deleted and recreated (a broker restarted
// without its data does the same): the client never adopts the new topic
// ID, every fetch was answered UNKNOWN_TOPIC_ID at once, and the poll loop
// logged each one — 168k lines in 5 s at 60% CPU — forever. Now repeats are
// counted rather than logged, the loop backs off, and Run ends with
// ErrTopicGone once the topic has been unreadable for the rebalance
// timeout.
func TestRecreatedTopicEndsRunWithoutSpinning(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		produce(t, c.Brokers, topic, 20)
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Group.RebalanceTimeout = 3 * time.Second
		var logs kafkatest.LogBuffer
		h := newRecorder(nil)
		p := mustNew(t, kcfg(c.Brokers, "gone"), topic, cfg, h, processor.Options{
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		errc := make(chan error, 1)
		go func() { errc <- p.Run(context.Background()) }()
		kafkatest.Eventually(t, 30*time.Second, "the first records handled", func() bool { return h.distinct() >= 20 })

		adm := kafkatest.Admin(t, c.Brokers)
		if _, err := adm.DeleteTopics(context.Background(), topic); err != nil {
			t.Fatal(err)
		}
		// The name is free again once the deletion is done.
		kafkatest.Eventually(t, 30*time.Second, "the topic re-created", func() bool {
			r, err := adm.CreateTopics(context.Background(), 2, -1, nil, topic)
			return err == nil && r[topic].Err == nil
		})
		recreated := time.Now()

		select {
		case err := <-errc:
			if !errors.Is(err, processor.ErrTopicGone) {
				t.Fatalf("Run returned %v, want ErrTopicGone", err)
			}
			t.Logf("Run ended %s after the re-creation: %v", time.Since(recreated), err)
			if !strings.Contains(err.Error(), topic) {
				t.Fatalf("the error does not name the topic: %v", err)
			}
			// The bound (3s), the backoff and the client's own detection.
			if d := time.Since(recreated); d > 30*time.Second {
				t.Fatalf("Run returned %s after the topic was recreated", d)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("Run did not end within 60s of the topic's re-creation; %d log lines",
				strings.Count(logs.String(), "\n"))
		}
		if n := strings.Count(logs.String(), "fetch error"); n > 20 {
			t.Fatalf("%d fetch error lines: repeats are not counted", n)
		}
	})
}
