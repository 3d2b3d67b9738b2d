package metrics

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
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
	if allocs := testing.AllocsPerRun(1000, func() {
		h.OnBrokerE2E(meta, 1, kgo.BrokerE2E{BytesWritten: 100, BytesRead: 200})
	}); allocs != 0 {
		t.Errorf("a request costs %v allocations, want 0", allocs)
	}
}

// TestClientHooksAgain: the processor makes a new client after a fatal
// group error (and the lag command one per run) on the same metrics: the
// second client registers the same series again, without a duplicate
// registration, and the request counters count for it.
func TestClientHooksAgain(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newClientHooks(reg)
	for i := range 2 {
		cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.ClientID("again"), kgo.WithHooks(h))
		if err != nil {
			t.Fatal(err)
		}
		h.OnBrokerE2E(kgo.BrokerMetadata{NodeID: 2}, 1, kgo.BrokerE2E{BytesWritten: 10, ReadErr: errors.New("eof")})
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		want := map[string]float64{"kafka_client_write_bytes_total": 10, "kafka_client_read_errors_total": 1}
		for _, mf := range mfs {
			if v, ok := want[mf.GetName()]; ok {
				if got := mf.GetMetric()[0].GetCounter().GetValue(); got != v {
					t.Errorf("client %d: %s = %v, want %v", i, mf.GetName(), got, v)
				}
				delete(want, mf.GetName())
			}
		}
		if len(want) > 0 {
			t.Errorf("client %d: not exported: %v", i, want)
		}
		cl.Close()
	}
}

// TestDescName pins the form of client_golang's Desc.String that descName
// reads the metric name from; skipRegisterer needs it to skip anything.
func TestDescName(t *testing.T) {
	d := prometheus.NewDesc("kafka_client_write_bytes_total", "help \"quoted\"", []string{"node_id"}, prometheus.Labels{"client_id": "x"})
	if got := descName(d); got != "kafka_client_write_bytes_total" {
		t.Fatalf("descName = %q from %s", got, d)
	}
	r := &skipRegisterer{Registerer: prometheus.NewRegistry(), names: map[string]bool{"skipped_total": true}}
	skipped := prometheus.NewCounter(prometheus.CounterOpts{Name: "skipped_total", Help: "h"})
	kept := prometheus.NewCounter(prometheus.CounterOpts{Name: "kept_total", Help: "h"})
	r.MustRegister(skipped, kept)
	if err := r.Registerer.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "kept_total", Help: "h"})); err == nil {
		t.Error("kept_total was not registered")
	}
	if r.Unregister(skipped) {
		t.Error("unregistering a skipped collector reported it registered")
	}
	if !r.Unregister(kept) {
		t.Error("kept_total could not be unregistered")
	}
}

// BenchmarkOnBrokerE2E is one request's counting by kprom's own hook and by
// clientHooks' cached children.
func BenchmarkOnBrokerE2E(b *testing.B) {
	meta := kgo.BrokerMetadata{NodeID: 1}
	e2e := kgo.BrokerE2E{BytesWritten: 100, BytesRead: 2000}
	for _, hooks := range []struct {
		name string
		make func(prometheus.Registerer) kgo.HookBrokerE2E
	}{
		{"kprom", func(reg prometheus.Registerer) kgo.HookBrokerE2E {
			return kprom.NewMetrics("kafka_client", kprom.Registerer(reg), kprom.WithClientLabel())
		}},
		{"veltrix", func(reg prometheus.Registerer) kgo.HookBrokerE2E { return newClientHooks(reg) }},
	} {
		b.Run(hooks.name, func(b *testing.B) {
			h := hooks.make(prometheus.NewRegistry())
			cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.WithHooks(h))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			b.ReportAllocs()
			for b.Loop() {
				h.OnBrokerE2E(meta, 1, e2e)
			}
		})
	}
}
