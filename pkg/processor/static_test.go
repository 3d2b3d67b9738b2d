package processor_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestStaticMembershipRestartCausesNoRebalance: a member with an instance
// id that restarts within the session timeout gets its partitions back and
// the other member sees no revocation.
func TestStaticMembershipRestartCausesNoRebalance(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "g")
		kafkatest.CreateTopic(t, c.Brokers, topic, 4)
		start := func(id string, reg prometheus.Registerer) (*processor.Processor, context.CancelFunc, chan error) {
			cfg := testConfig(group)
			cfg.Group.InstanceID = id
			cfg.Group.SessionTimeout = 10 * time.Second
			p := mustNew(t, kcfg(c.Brokers, id), topic, cfg, handler.Noop{}, processor.Options{Metrics: metrics.New(reg)})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			return p, cancel, done
		}
		regB := prometheus.NewRegistry()
		a, stopA, doneA := start("a", prometheus.NewRegistry())
		b, stopB, doneB := start("b", regB)
		defer func() {
			stopB()
			if err := <-doneB; err != nil {
				t.Error(err)
			}
		}()
		kafkatest.Eventually(t, 30*time.Second, "both members assigned", func() bool {
			return len(a.Assigned()) > 0 && len(b.Assigned()) > 0 && len(a.Assigned())+len(b.Assigned()) == 4
		})
		before := slices.Sorted(slices.Values(a.Assigned()))
		revokedB := counterWith(t, regB, "veltrix_rebalances_total", "kind", "revoked")
		partsB := slices.Sorted(slices.Values(b.Assigned()))

		stopA()
		if err := <-doneA; err != nil {
			t.Fatal(err)
		}
		a2, stopA2, doneA2 := start("a", prometheus.NewRegistry())
		defer func() {
			stopA2()
			if err := <-doneA2; err != nil {
				t.Error(err)
			}
		}()
		kafkatest.Eventually(t, 30*time.Second, "the restarted member assigned", func() bool { return len(a2.Assigned()) > 0 })
		time.Sleep(time.Second)
		if got := slices.Sorted(slices.Values(a2.Assigned())); !slices.Equal(got, before) {
			t.Errorf("restarted member got %v, had %v", got, before)
		}
		if got := counterWith(t, regB, "veltrix_rebalances_total", "kind", "revoked"); got != revokedB {
			t.Errorf("the other member saw %v revocations during the restart (before %v)", got-revokedB, revokedB)
		}
		if got := slices.Sorted(slices.Values(b.Assigned())); !slices.Equal(got, partsB) {
			t.Errorf("the other member's partitions changed from %v to %v", partsB, got)
		}
	})
}

func counterWith(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}
