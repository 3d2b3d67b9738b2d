package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// clientHooks is kprom's client metrics with the two per-batch counters,
// kafka_client_fetch_bytes_total and kafka_client_produce_bytes_total,
// counted through children cached per node and topic. kprom builds a label
// map and looks the child up for every batch it is told of; at a steady
// rate, where fetches and produce requests carry a batch of a few records
// per partition, that was 6% of a member's CPU. The series, labels and
// help are kprom's.
type clientHooks struct {
	*kprom.Metrics
	reg prometheus.Registerer

	mu                sync.RWMutex
	fetched, produced *prometheus.CounterVec
	children          map[batchKey]prometheus.Counter
}

// batchKey names one cached child.
type batchKey struct {
	produce bool
	node    int32
	topic   string
}

func newClientHooks(reg prometheus.Registerer) *clientHooks {
	// kprom keeps its own byte counters, under the names ConsistentNaming
	// gives them, but without UncompressedBytes it never moves them: they
	// export no series. Its other metrics are as by default.
	return &clientHooks{
		Metrics: kprom.NewMetrics("kafka_client", kprom.Registerer(reg), kprom.WithClientLabel(),
			kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.ConsistentNaming)),
		reg:      reg,
		children: map[batchKey]prometheus.Counter{},
	}
}

// OnNewClient registers kprom's metrics and the two byte counters, labelled
// by the client's id as kprom's are.
func (h *clientHooks) OnNewClient(cl *kgo.Client) {
	h.Metrics.OnNewClient(cl)
	id := prometheus.Labels{"client_id": cl.OptValue(kgo.ClientID).(string)}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fetched = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kafka_client", Name: "fetch_bytes_total",
		Help: "Total number of uncompressed bytes fetched", ConstLabels: id}, []string{"node_id", "topic"})
	h.produced = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kafka_client", Name: "produce_bytes_total",
		Help: "Total number of uncompressed bytes produced", ConstLabels: id}, []string{"node_id", "topic"})
	h.reg.MustRegister(h.fetched, h.produced)
}

// OnClientClosed unregisters what OnNewClient registered.
func (h *clientHooks) OnClientClosed(cl *kgo.Client) {
	h.Metrics.OnClientClosed(cl)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reg.Unregister(h.fetched)
	h.reg.Unregister(h.produced)
	clear(h.children)
}

// OnFetchBatchRead counts a fetched batch's uncompressed bytes.
func (h *clientHooks) OnFetchBatchRead(meta kgo.BrokerMetadata, topic string, _ int32, m kgo.FetchBatchMetrics) {
	h.child(batchKey{false, meta.NodeID, topic}).Add(float64(m.UncompressedBytes))
}

// OnProduceBatchWritten counts a produced batch's uncompressed bytes.
func (h *clientHooks) OnProduceBatchWritten(meta kgo.BrokerMetadata, topic string, _ int32, m kgo.ProduceBatchMetrics) {
	h.child(batchKey{true, meta.NodeID, topic}).Add(float64(m.UncompressedBytes))
}

// child is k's counter, made on first use.
func (h *clientHooks) child(k batchKey) prometheus.Counter {
	h.mu.RLock()
	c, ok := h.children[k]
	h.mu.RUnlock()
	if ok {
		return c
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.children[k]; ok {
		return c
	}
	vec := h.fetched
	if k.produce {
		vec = h.produced
	}
	c = vec.WithLabelValues(kgo.NodeName(k.node), k.topic)
	h.children[k] = c
	return c
}
