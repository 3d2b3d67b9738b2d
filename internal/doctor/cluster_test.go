package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestInspectLive reads a topic's partitions, replicas, min.insync.replicas
// and retention from each cluster, and runs the live checks on them.
func TestInspectLive(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		topic, missing := kafkatest.Name(t, "doc"), kafkatest.Name(t, "missing")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		cl := kafkatest.Client(t, c.Brokers)
		adm := kadm.NewClient(cl)
		// A contradiction only the cluster can show: more in-sync replicas
		// required than the topic has. An hour's retention is another.
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: kadm.StringPtr("2")},
			{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")},
		}, topic)
		if err == nil {
			_, err = resp.On(topic, nil)
		}
		if err != nil {
			t.Fatalf("altering topic configs: %v", err)
		}

		var ins *Cluster
		kafkatest.Eventually(t, 10*time.Second, "topic configs visible", func() bool {
			ins, err = Inspect(ctx, cl, []string{topic, missing})
			return err == nil && ins.Topics[topic].MinInsyncReplicas == 2
		})
		got := ins.Topics[topic]
		if !got.Exists || got.Partitions != 3 || got.ReplicationFactor != 1 || got.RetentionMs != 3600_000 || got.RetentionBytes != -1 {
			t.Errorf("topic = %+v", got)
		}
		if ins.Topics[missing].Exists || ins.Brokers < 1 {
			t.Errorf("missing topic = %+v, brokers %d", ins.Topics[missing], ins.Brokers)
		}

		cfg := config.Default()
		cfg.Topic.Name, cfg.Deploy.Instances = topic, 4
		fs := Run(Input{Config: cfg, Cluster: ins, Memory: Memory{Limit: 1 << 30, Source: "test"}})
		expectHas(t, fs, "durability", Error, "min.insync.replicas=1")
		expectHas(t, fs, "partitions", Warn, "deploy.instances=3")
		expectHas(t, fs, "retention", Warn, "retention.ms=172800000")
		if !HasErrors(fs) {
			t.Error("no error-severity finding")
		}
	})
}

func expectHas(t *testing.T, fs []Finding, check string, sev Severity, fix string) {
	t.Helper()
	for _, f := range fs {
		if f.Check == check && f.Severity == sev && f.Fix == fix {
			return
		}
	}
	t.Errorf("no %s %s finding with fix %s in:\n%s", sev, check, fix, dump(fs))
}

// TestInspectTopicErrorIsNotMissingTopic is the regression test for defect
// 14 in doctor: only UNKNOWN_TOPIC_OR_PARTITION makes a topic missing; any
// other error the cluster gives for it fails Inspect, naming the topic.
func TestInspectTopicErrorIsNotMissingTopic(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.LeaderNotAvailable, kerr.TopicAuthorizationFailed} {
		t.Run(e.Message, func(t *testing.T) {
			c := kafkatest.Fake(t)
			topic, missing := kafkatest.Name(t, "doc"), kafkatest.Name(t, "missing")
			kafkatest.CreateTopic(t, c.ListenAddrs(), topic, 3)
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: e, Count: -1})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ins, err := Inspect(ctx, kafkatest.Client(t, c.ListenAddrs()), []string{topic, missing})
			if !errors.Is(err, e) || !strings.Contains(fmt.Sprint(err), topic) || strings.Contains(fmt.Sprint(err), missing) {
				t.Fatalf("want %s naming %s (and not %s), got %v (cluster %+v)", e.Message, topic, missing, err, ins)
			}
		})
	}
}
