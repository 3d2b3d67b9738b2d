package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// clientHooks is kprom's client metrics with the counters kprom moves for
// every batch and every request counted through children cached per node
// (and topic): the two per-batch counters, kafka_client_fetch_bytes_total and
// kafka_client_produce_bytes_total, and the four per-request ones,
// kafka_client_{write,read}_{bytes,errors}_total. kprom builds a label map
// or slice and looks the child up each time; at a steady rate, where
// fetches and produce requests carry a batch of a few records per
// partition, the batch counters were 6% of a member's CPU and the request
// counters 1.4%. The series, labels and help are kprom's.
type clientHooks struct {
	*kprom.Metrics
	reg prometheus.Registerer

	mu                sync.RWMutex
	fetched, produced *prometheus.CounterVec
	children          map[batchKey]prometheus.Counter
	requests          [4]*prometheus.CounterVec // requestCounters' order
	nodes             map[int32]*nodeCounters
}

// requestCounters are kprom's per-request counters that clientHooks counts
// itself (OnBrokerE2E), in the order of nodeCounters' fields.
var requestCounters = [4]struct{ name, help string }{
	{"write_bytes_total", "Total number of bytes written to the TCP connection. The bytes count is tracked after compression (when used)."},
	{"write_errors_total", "Total number of write errors"},
	{"read_bytes_total", "Total number of bytes read from the TCP connection. The bytes count is tracked before uncompression (when used)."},
	{"read_errors_total", "Total number of read errors"},
}

// nodeCounters are one broker's request counters. The error counters'
// children are made at the first error, as kprom's: no zero series.
type nodeCounters struct {
	name                string
	written, read       prometheus.Counter
	writeErrs, readErrs *prometheus.CounterVec
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
	// kprom's request counters are not registered at all (skipRegisterer):
	// clientHooks registers its own under their names. kprom's histograms
	// stay off, as by default; OnBrokerE2E would have to observe them.
	skip := map[string]bool{}
	for _, c := range requestCounters {
		skip["kafka_client_"+c.name] = true
	}
	return &clientHooks{
		Metrics: kprom.NewMetrics("kafka_client", kprom.Registerer(&skipRegisterer{Registerer: reg, names: skip}),
			kprom.WithClientLabel(), kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.ConsistentNaming)),
		reg:      reg,
		children: map[batchKey]prometheus.Counter{},
		nodes:    map[int32]*nodeCounters{},
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
	for i, c := range requestCounters {
		h.requests[i] = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kafka_client", Name: c.name,
			Help: c.help, ConstLabels: id}, []string{"node_id"})
		h.reg.MustRegister(h.requests[i])
	}
}

// OnClientClosed unregisters what OnNewClient registered.
func (h *clientHooks) OnClientClosed(cl *kgo.Client) {
	h.Metrics.OnClientClosed(cl)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reg.Unregister(h.fetched)
	h.reg.Unregister(h.produced)
	for _, vec := range h.requests {
		h.reg.Unregister(vec)
	}
	clear(h.children)
	clear(h.nodes)
}

// OnBrokerE2E counts a request's bytes written and read, or the error that
// ended it, as kprom's own hook does.
func (h *clientHooks) OnBrokerE2E(meta kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	c := h.node(meta.NodeID)
	if e2e.WriteErr != nil {
		c.writeErrs.WithLabelValues(c.name).Inc()
		return
	}
	c.written.Add(float64(e2e.BytesWritten))
	if e2e.ReadErr != nil {
		c.readErrs.WithLabelValues(c.name).Inc()
		return
	}
	c.read.Add(float64(e2e.BytesRead))
}

// node is a broker's request counters, made on first use.
func (h *clientHooks) node(id int32) *nodeCounters {
	return cached(&h.mu, h.nodes, id, func() *nodeCounters {
		name := kgo.NodeName(id)
		return &nodeCounters{
			name:    name,
			written: h.requests[0].WithLabelValues(name), writeErrs: h.requests[1],
			read: h.requests[2].WithLabelValues(name), readErrs: h.requests[3],
		}
	})
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
	return cached(&h.mu, h.children, k, func() prometheus.Counter {
		vec := h.fetched
		if k.produce {
			vec = h.produced
		}
		return vec.WithLabelValues(kgo.NodeName(k.node), k.topic)
	})
}

// cached is m[k], made with mk under mu's write lock the first time: the
// hooks run on every batch and request, and read far more than they add.
func cached[K comparable, V any](mu *sync.RWMutex, m map[K]V, k K, mk func() V) V {
	mu.RLock()
	v, ok := m[k]
	mu.RUnlock()
	if ok {
		return v
	}
	mu.Lock()
	defer mu.Unlock()
	if v, ok := m[k]; ok {
		return v
	}
	v = mk()
	m[k] = v
	return v
}
