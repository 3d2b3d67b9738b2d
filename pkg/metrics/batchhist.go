package metrics

import (
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// BatchHistogramVec is a classic Prometheus histogram that takes a whole
// batch of observations at once: the caller buckets a batch locally with a
// BatchObserver and adds it under one lock, instead of one atomic histogram
// update per record. It exports exactly what a HistogramVec with the same
// buckets would (name, type, buckets, _sum and _count). It is safe for
// concurrent use.
type BatchHistogramVec struct {
	desc    *prometheus.Desc
	buckets []float64

	mu     sync.Mutex
	series map[string]*batchSeries
}

type batchSeries struct {
	labels []string
	counts []uint64 // per bucket, not cumulative; the last one is +Inf
	sum    float64
	count  uint64
}

// NewBatchHistogramVec returns a histogram vector with the given buckets
// (sorted, without +Inf).
func NewBatchHistogramVec(name, help string, buckets []float64, labels ...string) *BatchHistogramVec {
	return &BatchHistogramVec{
		desc:    prometheus.NewDesc(name, help, labels, nil),
		buckets: slices.Clone(buckets),
		series:  map[string]*batchSeries{},
	}
}

// Observer returns a BatchObserver that adds to the series with these
// label values. Each goroutine should use its own observer.
func (v *BatchHistogramVec) Observer(labelValues ...string) *BatchObserver {
	key := ""
	for _, l := range labelValues {
		key += l + "\xff"
	}
	v.mu.Lock()
	s, ok := v.series[key]
	if !ok {
		s = &batchSeries{labels: slices.Clone(labelValues), counts: make([]uint64, len(v.buckets)+1)}
		v.series[key] = s
	}
	v.mu.Unlock()
	return &BatchObserver{v: v, s: s, counts: make([]uint64, len(v.buckets)+1)}
}

// Describe implements prometheus.Collector.
func (v *BatchHistogramVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

// Collect implements prometheus.Collector.
func (v *BatchHistogramVec) Collect(ch chan<- prometheus.Metric) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, s := range v.series {
		cum := make(map[float64]uint64, len(v.buckets))
		var run uint64
		for i, b := range v.buckets {
			run += s.counts[i]
			cum[b] = run
		}
		ch <- prometheus.MustNewConstHistogram(v.desc, s.count, s.sum, cum, s.labels...)
	}
}

// BatchObserver buckets observations locally until Flush. It is not safe
// for concurrent use; give each goroutine its own.
type BatchObserver struct {
	v      *BatchHistogramVec
	s      *batchSeries
	counts []uint64
	sum    float64
	n      uint64
}

// Observe records one value locally.
func (o *BatchObserver) Observe(x float64) {
	o.counts[sort.SearchFloat64s(o.v.buckets, x)]++
	o.sum += x
	o.n++
}

// ObserveN records the value x n times locally: one bucket search for a
// run of equal values (records of one producer batch often share their
// millisecond timestamp, hence their latency).
func (o *BatchObserver) ObserveN(x float64, n uint64) {
	o.counts[sort.SearchFloat64s(o.v.buckets, x)] += n
	o.sum += x * float64(n)
	o.n += n
}

// Flush adds what was observed since the last Flush to the series.
func (o *BatchObserver) Flush() {
	if o.n == 0 {
		return
	}
	o.v.mu.Lock()
	for i, c := range o.counts {
		o.s.counts[i] += c
	}
	o.s.sum += o.sum
	o.s.count += o.n
	o.v.mu.Unlock()
	clear(o.counts)
	o.sum, o.n = 0, 0
}
