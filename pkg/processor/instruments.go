package processor

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// instruments are the engine's metric children, resolved once per
// processor so the hot path does no label lookups. A nil *metrics.Metrics
// makes every method a no-op.
type instruments struct {
	m            *metrics.Metrics
	group, topic string

	processed, retries, commits, commitErrs prometheus.Counter
	pollLoop                                prometheus.Counter
	batch, handler                          prometheus.Observer
	assignedG, pausedG, recsG, bytesG       prometheus.Gauge
	haltedG, overdueG                       prometheus.Gauge
	timeouts, dlqErrs                       prometheus.Counter
	// failedBy and rebalances hold a child per known label value, created
	// up front so every series exists from the first scrape: increase()
	// over a series that appears with its first failure misses that failure.
	failedBy   map[string]prometheus.Counter
	rebalances map[string]prometheus.Counter
}

// Known label values of the engine's labelled counters.
var (
	failureOutcomes = []string{"skip", "dlq", "halt"}
	rebalanceKinds  = []string{"assigned", "revoked", "lost"}
)

// newInstruments returns the group's instruments and topic's; with topic ""
// the group's only (a processor of several topics has one per topic too,
// and calling a topic's method on it panics).
func newInstruments(m *metrics.Metrics, group, topic string) *instruments {
	i := &instruments{m: m, group: group, topic: topic}
	if m == nil {
		return i
	}
	i.commits = m.Commits.WithLabelValues(group)
	i.commitErrs = m.CommitErrors.WithLabelValues(group)
	i.pausedG = m.Paused.WithLabelValues(group)
	i.recsG = m.BufferedRecs.WithLabelValues(group)
	i.bytesG = m.BufferedBytes.WithLabelValues(group)
	i.rebalances = map[string]prometheus.Counter{}
	for _, k := range rebalanceKinds {
		i.rebalances[k] = m.Rebalances.WithLabelValues(group, k)
	}
	if topic == "" {
		return i
	}
	i.processed = m.Processed.WithLabelValues(topic)
	i.retries = m.Retries.WithLabelValues(topic)
	i.pollLoop = m.PollLoop.WithLabelValues(topic)
	i.batch = m.BatchRecords.WithLabelValues(topic)
	i.handler = m.HandlerSeconds.WithLabelValues(topic)
	i.assignedG = m.Assigned.WithLabelValues(group, topic)
	i.haltedG = m.Halted.WithLabelValues(group, topic)
	i.overdueG = m.Overdue.WithLabelValues(group, topic)
	i.timeouts = m.Timeouts.WithLabelValues(topic)
	i.dlqErrs = m.DLQErrors.WithLabelValues(topic)
	i.failedBy = map[string]prometheus.Counter{}
	for _, o := range failureOutcomes {
		i.failedBy[o] = m.Failed.WithLabelValues(topic, o)
	}
	m.E2ESeconds.Observer(topic) // the series exists before the first lane
	return i
}

// e2eObserver returns a lane's own end-to-end latency observer, or nil.
func (i *instruments) e2eObserver() *metrics.BatchObserver {
	if i.m == nil {
		return nil
	}
	return i.m.E2ESeconds.Observer(i.topic)
}

// done records a finished batch: ok records succeeded, each with its
// end-to-end latency from the record timestamp to now, bucketed locally in
// the lane's observer and added once per batch (a per-record histogram
// update was two thirds of a lane's CPU with 100-byte records).
func (i *instruments) done(obs *metrics.BatchObserver, recs []*kgo.Record, ok int, now time.Time) {
	if i.m == nil {
		return
	}
	i.processed.Add(float64(ok))
	// Records of one producer batch mostly share their millisecond
	// timestamp: a run of equal timestamps is one latency, computed and
	// bucketed once (time.Sub per record was most of this function).
	for j := 0; j < len(recs); {
		ts := recs[j].Timestamp
		k := j + 1
		// == rather than Equal (2.5 × faster here): franz-go builds every
		// timestamp with time.UnixMilli, so equal instants compare equal;
		// a false mismatch would only split a run.
		for k < len(recs) && recs[k].Timestamp == ts { //nolint:staticcheck // QF1009: see above
			k++
		}
		obs.ObserveN(now.Sub(ts).Seconds(), uint64(k-j))
		j = k
	}
	obs.Flush()
}

func (i *instruments) handled(n int, d time.Duration) {
	if i.m == nil {
		return
	}
	i.batch.Observe(float64(n))
	i.handler.Observe(d.Seconds())
}

func (i *instruments) failed(outcome string) {
	if i.m != nil {
		i.failedBy[outcome].Inc()
	}
}

func (i *instruments) retry() {
	if i.m != nil {
		i.retries.Inc()
	}
}

// turn counts a batch the poll loop handled itself (inline.go).
func (i *instruments) turn() {
	if i.m != nil {
		i.pollLoop.Inc()
	}
}

func (i *instruments) commit() {
	if i.m != nil {
		i.commits.Inc()
	}
}

func (i *instruments) commitError() {
	if i.m != nil {
		i.commitErrs.Inc()
	}
}

func (i *instruments) laneStarted() {
	if i.m != nil {
		i.assignedG.Inc()
	}
}

func (i *instruments) rebalance(kind string) {
	if i.m != nil {
		i.rebalances[kind].Inc()
	}
}

// released forgets a partition this member no longer owns.
func (i *instruments) released(part int32) {
	if i.m != nil {
		i.assignedG.Dec()
		i.m.HaltedOffset.DeleteLabelValues(i.group, i.topic, partitionLabel(part))
		i.m.InFlight.DeleteLabelValues(i.group, i.topic, partitionLabel(part))
		i.m.InFlightOldest.DeleteLabelValues(i.group, i.topic, partitionLabel(part))
		i.m.InFlightWaiting.DeleteLabelValues(i.group, i.topic, partitionLabel(part))
	}
}

// window exports a partition's offset window (key and none ordering):
// records in flight, the age of the oldest unfinished one, and records
// waiting in sub-lane queues. Set, not Add: a partition has one owner.
func (i *instruments) window(part int32, inflight int, oldest time.Duration, waiting int) {
	if i.m != nil {
		label := partitionLabel(part)
		i.m.InFlight.WithLabelValues(i.group, i.topic, label).Set(float64(inflight))
		i.m.InFlightOldest.WithLabelValues(i.group, i.topic, label).Set(oldest.Seconds())
		i.m.InFlightWaiting.WithLabelValues(i.group, i.topic, label).Set(float64(waiting))
	}
}

// lagGauge is a partition's lag series, nil without metrics. A lane looks
// it up once and sets it after every fetch (lane.setLag): a label lookup per
// partition per poll was 1% of a member's CPU at a steady 10k events/s.
func (i *instruments) lagGauge(part int32) prometheus.Gauge {
	if i.m == nil {
		return nil
	}
	return i.m.PartitionLag.WithLabelValues(i.group, i.topic, partitionLabel(part))
}

// lagReleased deletes a released partition's lag series. The caller holds
// p.mu and has checked that no newer lane owns the partition: a newer lane
// may hold the series already, and deleting it would leave that lane setting
// a gauge no scrape sees.
func (i *instruments) lagReleased(part int32) {
	if i.m != nil {
		i.m.PartitionLag.DeleteLabelValues(i.group, i.topic, partitionLabel(part))
	}
}

func (i *instruments) paused(delta int) {
	if i.m != nil {
		i.pausedG.Add(float64(delta))
	}
}

func (i *instruments) buffered(recs, bytes int64) {
	if i.m != nil {
		i.recsG.Add(float64(recs))
		i.bytesG.Add(float64(bytes))
	}
}

func (i *instruments) halted(delta int) {
	if i.m != nil {
		i.haltedG.Add(float64(delta))
	}
}

// haltedAt exports the offset part halted at; released removes it. Set,
// not Add: a partition has one owner, and one lane halts at most once.
func (i *instruments) haltedAt(part int32, offset int64) {
	if i.m != nil {
		i.m.HaltedOffset.WithLabelValues(i.group, i.topic, partitionLabel(part)).Set(float64(offset))
	}
}

// timeout counts a handler call that exceeded handler.timeout.
func (i *instruments) timeout() {
	if i.m != nil {
		i.timeouts.Inc()
	}
}

// overdue moves the gauge of handler calls running past their timeout.
func (i *instruments) overdue(delta int) {
	if i.m != nil {
		i.overdueG.Add(float64(delta))
	}
}

// dlqError counts a failed dead-letter write.
func (i *instruments) dlqError() {
	if i.m != nil {
		i.dlqErrs.Inc()
	}
}
