package processor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestHaltedPartitionExposed: a partition halted by on_failure=halt is
// reported with its poison offset and error (Processor.Halted and
// veltrix_halted_partition_offset, what the status page and the alert
// read) while the member stays ready and keeps serving its other
// partitions; released, the series goes away.
func TestHaltedPartitionExposed(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		cfg := contractConfig(t, processor.OnFailureHalt)
		produceValues(t, c.Brokers, topic, 0, "ok", "ok", "poison", "ok")
		produceValues(t, c.Brokers, topic, 1, "ok", "ok")
		reg := prometheus.NewRegistry()
		p := newContractProcessor(t, c.Brokers, topic, cfg, newContractHandler(true), processor.Options{Metrics: metrics.New(reg)})
		stop := start(t, p, 15*time.Second)
		adm := kafkatest.Admin(t, c.Brokers)
		waitCommitted(t, adm, cfg.Group.ID, topic, map[int32]int64{0: 2, 1: 2}, "p0 halted at its poison record, p1 done", func() bool {
			return len(p.Halted()) == 1
		})

		h := p.Halted()[0]
		if h.Partition != 0 || h.Offset != 2 || h.Attempts != contractAttempts || !strings.Contains(h.Err, errContractRecord.Error()) || h.Since.IsZero() {
			t.Fatalf("Halted() = %+v, want partition 0 at offset 2 after %d attempts with %q", h, contractAttempts, errContractRecord)
		}
		want := `
# HELP veltrix_halted_partition_offset Offset of the record that halted the partition (on_failure=halt), for each partition halted on this process; the series exists only while it is halted here.
# TYPE veltrix_halted_partition_offset gauge
veltrix_halted_partition_offset{group="` + cfg.Group.ID + `",partition="0",topic="` + topic + `"} 2
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "veltrix_halted_partition_offset"); err != nil {
			t.Fatal(err)
		}
		// Ready (what /readyz answers) stays true: the member serves its
		// other partitions; the alert, not the probe, reports the halt.
		if !p.Ready() {
			t.Fatal("a member with a halted partition is not ready")
		}
		produceValues(t, c.Brokers, topic, 1, "ok", "ok", "ok")
		waitCommitted(t, adm, cfg.Group.ID, topic, map[int32]int64{0: 2, 1: 5}, "p1 keeps being served", nil)

		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if n, err := testutil.GatherAndCount(reg, "veltrix_halted_partition_offset"); err != nil || n != 0 {
			t.Fatalf("%d veltrix_halted_partition_offset series after the partition was released (err %v)", n, err)
		}
		if got := p.Halted(); len(got) != 0 {
			t.Fatalf("Halted() after stop = %+v", got)
		}
	})
}
