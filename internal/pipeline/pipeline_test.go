package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestTopics lists the topics of each handler and failure policy: the one
// list process ensures, doctor inspects and plan creates.
func TestTopics(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(c *config.Config)
		want []string
	}{
		{"noop skip", func(c *config.Config) { c.Processor.OnFailure = "skip" }, []string{"in"}},
		{"log halt", func(c *config.Config) { c.Handler.Name, c.Processor.OnFailure = "log", "halt" }, []string{"in"}},
		{"noop dlq default name", func(c *config.Config) { c.Processor.OnFailure = "dlq" }, []string{"in", "in.dlq"}},
		{"noop dlq named", func(c *config.Config) { c.Processor.OnFailure, c.Processor.DLQTopic = "dlq", "dead" }, []string{"in", "dead"}},
		{"forward skip", func(c *config.Config) {
			c.Handler.Name, c.Handler.OutputTopic, c.Processor.OnFailure = "forward", "out", "skip"
		}, []string{"in", "out"}},
		{"forward dlq", func(c *config.Config) {
			c.Handler.Name, c.Handler.OutputTopic, c.Processor.OnFailure = "forward", "out", "dlq"
		}, []string{"in", "out", "in.dlq"}},
		{"simulate", func(c *config.Config) {
			c.Handler.Name, c.Handler.OutputTopic, c.Processor.OnFailure = "simulate", "out", "skip"
		}, []string{"in"}},
		{"simulate forwarding", func(c *config.Config) {
			c.Handler.Name, c.Handler.OutputTopic, c.Handler.Simulate.Forward = "simulate", "out", true
			c.Processor.OnFailure = "dlq"
		}, []string{"in", "out", "in.dlq"}},
		// An unvalidated config without the output topic asks about no "".
		{"forward unvalidated", func(c *config.Config) {
			c.Handler.Name, c.Handler.OutputTopic, c.Processor.OnFailure = "forward", "", "skip"
		}, []string{"in"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			c.Topic.Name = "in"
			tc.mod(&c)
			if got := Topics(c); !slices.Equal(got, tc.want) {
				t.Fatalf("Topics = %q, want %q", got, tc.want)
			}
		})
	}
}

// testConfig is a pipeline on c's brokers with unique names and the short
// timings tests need.
func testConfig(t *testing.T, c kafkatest.Cluster) config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = c.Brokers
	cfg.Kafka.ClientID = kafkatest.Name(t, "cid")
	cfg.Topic.Name = kafkatest.Name(t, "in")
	cfg.Topic.Partitions = 4
	quickGroup(t, &cfg)
	cfg.Lag.Interval = 200 * time.Millisecond
	return cfg
}

// TestConnectEnsuresTopics connects a forward pipeline with dead letters on
// a cluster where none of its topics exist: with topic.create every topic
// of Topics is created with topic.partitions; without it Connect fails
// naming the missing input.
func TestConnectEnsuresTopics(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		cfg := testConfig(t, c)
		cfg.Handler.Name, cfg.Handler.OutputTopic = "forward", kafkatest.Name(t, "out")
		cfg.Processor.OnFailure = "dlq"
		cfg.Topic.Create = false
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		_, err := Connect(ctx, cfg, "-producer", Options{})
		var missing *kafka.MissingTopicError
		if !errors.As(err, &missing) || missing.Topic != cfg.Topic.Name {
			t.Fatalf("Connect without topic.create: %v, want the input named missing", err)
		}

		cfg.Topic.Create = true
		pl, err := Connect(ctx, cfg, "-producer", Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		want := []string{cfg.Topic.Name, cfg.Handler.OutputTopic, cfg.Topic.Name + ".dlq"}
		if got := Topics(cfg); !slices.Equal(got, want) {
			t.Fatalf("Topics = %q, want %q", got, want)
		}
		// Connect returns once each topic is usable: a fresh client's
		// uncached metadata must show all of them.
		described, err := kafka.DescribeTopics(ctx, kafkatest.Client(t, c.Brokers), want...)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range want {
			if d, ok := described[name]; !ok || len(d.Partitions) != cfg.Topic.Partitions {
				t.Errorf("topic %s: %+v, want %d partitions", name, d, cfg.Topic.Partitions)
			}
		}
	})
}

// counting counts the records its inner handler finished.
type counting struct {
	inner processor.Handler
	n     atomic.Int64
}

func (h *counting) Handle(ctx context.Context, b *processor.Batch) error {
	err := h.inner.Handle(ctx, b)
	if err == nil {
		h.n.Add(int64(len(b.Records)))
	}
	return err
}

// TestGroupEndToEnd builds a forward pipeline with a group of two members
// in this process, as demo does, and its own lag monitor: every record must
// reach the output topic, the monitor must report the group with both
// members under their client ids and no lag left, and every client must
// carry the metrics hooks under its own client id.
func TestGroupEndToEnd(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		const n = 2000
		cfg := testConfig(t, c)
		cfg.Handler.Name, cfg.Handler.OutputTopic = "forward", kafkatest.Name(t, "out")
		kafkatest.CreateTopic(t, c.Brokers, cfg.Topic.Name, cfg.Topic.Partitions)

		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: cfg.Topic.Name, Key: []byte(fmt.Sprint("k", i%11)), Value: []byte(fmt.Sprint(i))})
		}
		if err := kafkatest.Client(t, c.Brokers).ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatalf("producing: %v", err)
		}

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		reg := metrics.NewRegistry()
		pl, err := Connect(ctx, cfg, "-p", Options{Metrics: metrics.New(reg)})
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		h := &counting{inner: pl.Handler()}
		g, err := pl.Group(h, "-m-1", "-m-2")
		if err != nil {
			t.Fatal(err)
		}
		stopLag, err := pl.StartOwnLag(ctx, reg)
		if err != nil {
			t.Fatal(err)
		}
		defer stopLag()
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		stopped := false
		defer func() {
			if !stopped {
				cancel()
				if err := <-done; err != nil {
					t.Logf("group stopped: %v", err)
				}
			}
		}()

		kafkatest.Eventually(t, 60*time.Second, "the group settled", g.Settled)
		adm := kafkatest.Admin(t, c.Brokers)
		kafkatest.Eventually(t, 60*time.Second, "every record forwarded", func() bool {
			total, ok := endTotals(adm, cfg.Handler.OutputTopic)
			return ok && total[cfg.Handler.OutputTopic] >= n
		})
		// A forwarded batch is readable before its Handle call returns
		// and is counted: wait for the count too.
		kafkatest.Eventually(t, 10*time.Second, "every record counted as handled", func() bool {
			return h.n.Load() >= n
		})

		// The own lag monitor: the group, its two members by client id, and
		// no lag once the last offsets are committed.
		group := cfg.Processor.Group.ID
		kafkatest.Eventually(t, 30*time.Second, "the own lag monitor reports the group caught up with both members", func() bool {
			fams := gather(t, reg)
			members, ok1 := value(fams, "kafka_consumergroup_members", map[string]string{"group": group})
			sum, ok2 := value(fams, "kafka_consumergroup_group_sum_lag", map[string]string{"group": group})
			return ok1 && ok2 && members == 2 && sum == 0
		})
		fams := gather(t, reg)
		for _, id := range []string{cfg.Kafka.ClientID + "-m-1", cfg.Kafka.ClientID + "-m-2"} {
			if _, ok := value(fams, "kafka_consumergroup_members_info", map[string]string{"group": group, "client_id": id}); !ok {
				t.Errorf("the lag monitor reports no member with client id %s", id)
			}
		}
		// Each client's hooks export franz-go's metrics under its client id.
		for _, id := range []string{cfg.Kafka.ClientID + "-p", cfg.Kafka.ClientID + "-m-1", cfg.Kafka.ClientID + "-m-2"} {
			if !anyWithLabel(fams, "kafka_client_", "client_id", id) {
				t.Errorf("no kafka_client_* series for client id %s", id)
			}
		}

		cancel()
		stopped = true
		if err := <-done; err != nil {
			t.Fatalf("group: %v", err)
		}
	})
}

// TestGroupRunStopsOnMemberFailure: a member that fails stops the others,
// and Run returns its error without waiting for ctx. Two members sharing
// one static membership id make the coordinator fence one of them.
func TestGroupRunStopsOnMemberFailure(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		cfg := testConfig(t, c)
		cfg.Processor.Group.InstanceID = "replica-0"
		kafkatest.CreateTopic(t, c.Brokers, cfg.Topic.Name, 2)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		pl, err := Connect(ctx, cfg, "-p", Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		g, err := pl.Group(pl.Handler(), "-m-1", "-m-2")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		select {
		case err := <-done:
			if !errors.Is(err, processor.ErrFenced) {
				t.Fatalf("Run: %v, want ErrFenced", err)
			}
			if ctx.Err() != nil {
				t.Fatalf("Run returned only after ctx ended: %v", ctx.Err())
			}
		case <-ctx.Done():
			t.Fatal("Run did not return after a member was fenced")
		}
	})
}

// gather reads every metric family of g.
func gather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the gauge value of the series of name whose labels include
// want.
func value(fams []*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, want) {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// anyWithLabel reports whether a series of a family named prefix* has
// label = v.
func anyWithLabel(fams []*dto.MetricFamily, prefix, label, v string) bool {
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, map[string]string{label: v}) {
				return true
			}
		}
	}
	return false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}
