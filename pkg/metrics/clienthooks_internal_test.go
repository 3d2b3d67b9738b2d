package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClientHooksBatchAllocs: counting a fetched or produced batch
// allocates nothing once its node and topic were seen (kprom's own hook
// builds a label map per batch).
func TestClientHooksBatchAllocs(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newClientHooks(reg)
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.ClientID("allocs"), kgo.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	meta := kgo.BrokerMetadata{NodeID: 1}
	if allocs := testing.AllocsPerRun(1000, func() {
		h.OnFetchBatchRead(meta, "t", 0, kgo.FetchBatchMetrics{UncompressedBytes: 100})
		h.OnProduceBatchWritten(meta, "t", 0, kgo.ProduceBatchMetrics{UncompressedBytes: 100})
	}); allocs != 0 {
		t.Errorf("a batch costs %v allocations, want 0", allocs)
	}
}
