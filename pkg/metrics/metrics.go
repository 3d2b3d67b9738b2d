// Package metrics declares every Prometheus metric veltrix exports, in one
// place, on a registerer the caller passes in. Nothing registers globally.
//
// Names use base units and _total for counters; labels are bounded: topic,
// partition, group and outcome words, never record keys or member ids.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Namespace prefixes veltrix's own metric names.
const Namespace = "veltrix"

// Metrics holds every veltrix metric. One Metrics serves every producer and
// processor in a process, so two group members in one demo share the series
// (gauges they both move are changed with Add, never Set). It is safe for
// concurrent use.
type Metrics struct {
	reg prometheus.Registerer

	Produced       *prometheus.CounterVec   // topic
	ProduceErrors  *prometheus.CounterVec   // topic
	Processed      *prometheus.CounterVec   // topic
	Failed         *prometheus.CounterVec   // topic, outcome: dlq|skip|halt
	Retries        *prometheus.CounterVec   // topic
	PollLoop       *prometheus.CounterVec   // topic
	BatchRecords   *prometheus.HistogramVec // topic
	HandlerSeconds *prometheus.HistogramVec // topic
	E2ESeconds     *BatchHistogramVec       // topic; one observation per record, added per batch
	Commits        *prometheus.CounterVec   // group
	CommitErrors   *prometheus.CounterVec   // group
	Assigned       *prometheus.GaugeVec     // group, topic
	Rebalances     *prometheus.CounterVec   // group, kind: assigned|revoked|lost
	PartitionLag   *prometheus.GaugeVec     // group, topic, partition
	Paused         *prometheus.GaugeVec     // group
	BufferedRecs   *prometheus.GaugeVec     // group
	BufferedBytes  *prometheus.GaugeVec     // group
	Halted         *prometheus.GaugeVec     // group, topic
	HaltedOffset   *prometheus.GaugeVec     // group, topic, partition; only while halted
	Timeouts       *prometheus.CounterVec   // topic
	Overdue        *prometheus.GaugeVec     // group, topic
	DLQErrors      *prometheus.CounterVec   // topic
	// Key and none ordering's offset window, per owned partition, sampled
	// every second.
	InFlight        *prometheus.GaugeVec   // group, topic, partition
	InFlightOldest  *prometheus.GaugeVec   // group, topic, partition
	InFlightWaiting *prometheus.GaugeVec   // group, topic, partition
	Transactions    *prometheus.CounterVec // group, outcome: committed|aborted|unknown
}

// Latency buckets from 1 ms to about 65 s, doubling.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 17)

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		Produced: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "produced_records_total", Help: "Records acknowledged by the brokers."}, []string{"topic"}),
		ProduceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "produce_errors_total", Help: "Records that could not be written after retries."}, []string{"topic"}),
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "processed_records_total", Help: "Records the handler finished successfully."}, []string{"topic"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "failed_records_total", Help: "Records that failed after all retries, by what was done with them (dlq, skip, halt)."}, []string{"topic", "outcome"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "handler_retries_total", Help: "Handler calls retried after a failure."}, []string{"topic"}),
		PollLoop: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "poll_loop_batches_total", Help: "Batches the poll loop handled itself instead of waking their partition's goroutine: at most one batch from one poll, for a partition whose goroutine was idle and whose handler calls were quick and successful (docs/architecture.md)."}, []string{"topic"}),
		BatchRecords: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
			Name: "batch_records", Help: "Records per batch handed to the handler.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 15)}, []string{"topic"}),
		HandlerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
			Name: "handler_duration_seconds", Help: "Time the handler took per batch.", Buckets: latencyBuckets}, []string{"topic"}),
		E2ESeconds: NewBatchHistogramVec(Namespace+"_end_to_end_latency_seconds",
			"Time from a record's timestamp to the end of its handling.", latencyBuckets, "topic"),
		Commits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "commits_total", Help: "Offset commits that succeeded."}, []string{"group"}),
		CommitErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "commit_errors_total", Help: "Offset commits that failed."}, []string{"group"}),
		Assigned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "partitions_assigned", Help: "Partitions this process currently owns."}, []string{"group", "topic"}),
		Rebalances: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "rebalances_total", Help: "Partition assignment changes seen by this process, by kind (assigned, revoked, lost)."}, []string{"group", "kind"}),
		PartitionLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "partition_lag_records", Help: "High watermark minus the position this process has fetched to, per owned partition, as of the last fetch."},
			[]string{"group", "topic", "partition"}),
		Paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "paused_partitions", Help: "Partitions whose fetching is paused by backpressure."}, []string{"group"}),
		BufferedRecs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "buffered_records", Help: "Records fetched and queued, not yet handled."}, []string{"group"}),
		BufferedBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "buffered_bytes", Help: "Memory held by fetched, queued records not yet handled: key, value and headers plus the record's own overhead."}, []string{"group"}),
		Halted: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "halted_partitions", Help: "Partitions stopped by on_failure=halt until restart."}, []string{"group", "topic"}),
		HaltedOffset: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "halted_partition_offset", Help: "Offset of the record that halted the partition (on_failure=halt), for each partition halted on this process; the series exists only while it is halted here."},
			[]string{"group", "topic", "partition"}),
		Timeouts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "handler_timeouts_total", Help: "Handler calls that exceeded handler.timeout; the batch is retried with backoff and never counted as a record failure."}, []string{"topic"}),
		Overdue: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "overdue_handler_calls", Help: "Handler calls still running past handler.timeout (a handler ignoring its context); their partitions wait for them."}, []string{"group", "topic"}),
		DLQErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "dlq_errors_total", Help: "Dead-letter writes that failed, per attempt; after processor.retry.max_attempts failures the partition halts."}, []string{"topic"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "inflight_records", Help: "Records of the partition taken into its offset window and not finished yet (processor.ordering key or none; sampled every second)."},
			[]string{"group", "topic", "partition"}),
		InFlightOldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "inflight_oldest_seconds", Help: "Age of the partition's lowest unfinished record, which holds its commit: time since it was taken into the offset window, 0 when none is unfinished (processor.ordering key or none; sampled every second)."},
			[]string{"group", "topic", "partition"}),
		InFlightWaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace,
			Name: "inflight_waiting_records", Help: "Records of the partition in its offset window waiting behind an earlier record of their sub-lane (the same key, or a key that hashes to the same sub-lane) (processor.ordering key or none; sampled every second)."},
			[]string{"group", "topic", "partition"}),
		Transactions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "transactions_total", Help: "Transactions ended under processor.guarantee=exactly_once, by outcome: committed, aborted (a rebalance, a halt, a barrier not reached in time), unknown (End failed; the client is recreated)."}, []string{"group", "outcome"}),
	}
	reg.MustRegister(m.Produced, m.ProduceErrors, m.Processed, m.Failed, m.Retries, m.PollLoop, m.BatchRecords,
		m.HandlerSeconds, m.E2ESeconds, m.Commits, m.CommitErrors, m.Assigned, m.Rebalances,
		m.PartitionLag, m.Paused, m.BufferedRecs, m.BufferedBytes, m.Halted, m.HaltedOffset, m.Timeouts, m.Overdue, m.DLQErrors,
		m.InFlight, m.InFlightOldest, m.InFlightWaiting, m.Transactions)
	return m
}

// ProducerCounters returns the produced and produce-error counters of
// topic, creating both at 0. A producer calls it before its first record:
// a counter whose series appears with its first failure is invisible to
// increase() and rate(), which need two samples, so the first failure would
// not count.
func (m *Metrics) ProducerCounters(topic string) (produced, failed prometheus.Counter) {
	return m.Produced.WithLabelValues(topic), m.ProduceErrors.WithLabelValues(topic)
}

// RegisterReady exports veltrix_ready: 1 while ready returns true, 0
// otherwise, read at scrape time. It is what /readyz answers, as a series an
// alert can watch. Call it at most once per Metrics.
func (m *Metrics) RegisterReady(ready func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace,
		Name: "ready", Help: "1 while ready (what /readyz reports): joined the group, holding a session, the cluster answering and the input topic readable; 0 otherwise."},
		boolGauge(ready)))
}

// RegisterLive exports veltrix_live: 1 while live returns true, 0 while the
// engine is wedged, read at scrape time. It is what /healthz answers. Call
// it at most once per Metrics.
func (m *Metrics) RegisterLive(live func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace,
		Name: "live", Help: "1 unless the engine is wedged (what /healthz reports): the poll loop or a partition with work made no progress for longer than processor.group.rebalance_timeout; a broker outage does not count."},
		boolGauge(live)))
}

func boolGauge(f func() bool) func() float64 {
	return func() float64 {
		if f() {
			return 1
		}
		return 0
	}
}

// ClientHooks returns the kprom hook that exports franz-go's own client
// metrics (connections, bytes, request latency) for one client. Each client
// in a process needs a distinct client id; the id becomes the client_id label.
// The per-batch byte counters are counted without kprom's per-batch label
// lookup (clienthooks.go).
func (m *Metrics) ClientHooks() kgo.Opt {
	return kgo.WithHooks(newClientHooks(m.reg))
}

// Lag describes the lag monitor's series. pkg/lag's collector builds them
// fresh at every scrape from its latest poll, so a deleted group's series
// vanish. Names follow kafka_exporter and kafka-lag-exporter, so existing
// dashboards work; labels are cluster, group, topic and partition only (and
// the member ids of the info metric), and no gauge uses -1 or NaN as a
// "not known" marker: an unknown value has no series.
type Lag struct {
	Lag             *prometheus.Desc // cluster, group, topic, partition
	LagSeconds      *prometheus.Desc // cluster, group, topic, partition
	MaxLag          *prometheus.Desc // cluster, group
	SumLag          *prometheus.Desc // cluster, group
	MaxLagSeconds   *prometheus.Desc // cluster, group
	CurrentOffset   *prometheus.Desc // cluster, group, topic, partition
	LostRecords     *prometheus.Desc // cluster, group, topic, partition
	PartitionStatus *prometheus.Desc // cluster, group, topic, partition
	GroupStatus     *prometheus.Desc // cluster, group
	Members         *prometheus.Desc // cluster, group
	MemberInfo      *prometheus.Desc // cluster, group, member_id, client_id, host
	LatestOffset    *prometheus.Desc // cluster, topic, partition
	EarliestOffset  *prometheus.Desc // cluster, topic, partition
	UnstableRecords *prometheus.Desc // cluster, topic, partition
	PollSeconds     *prometheus.Desc // cluster
	PollTimestamp   *prometheus.Desc // cluster
}

// LagStatusHelp explains the numeric status codes.
const LagStatusHelp = "0 OK, 1 WARN (lag rising while committing), 2 REWIND (committed offset went back), 3 STALL (owned, offset not moving, lag > 0), 4 STOP (no owner, offset not moving, lag > 0), 5 ERR (offsets unreadable); see docs/lag.md."

// NewLag returns the lag monitor's descriptors.
func NewLag() *Lag {
	part := []string{"cluster", "group", "topic", "partition"}
	group := []string{"cluster", "group"}
	topic := []string{"cluster", "topic", "partition"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &Lag{
		Lag: d("kafka_consumergroup_group_lag",
			"Offset lag: last stable offset minus the committed offset (or the reset position when nothing is committed), never negative.", part),
		LagSeconds: d("kafka_consumergroup_group_lag_seconds",
			"Time lag: now minus the timestamp of the next record the group has to read; 0 when caught up. Absent when that record could not be read.", part),
		MaxLag:        d("kafka_consumergroup_group_max_lag", "Largest partition offset lag of the group.", group),
		SumLag:        d("kafka_consumergroup_group_sum_lag", "Total offset lag of the group.", group),
		MaxLagSeconds: d("kafka_consumergroup_group_max_lag_seconds", "Largest partition time lag of the group.", group),
		CurrentOffset: d("kafka_consumergroup_current_offset",
			"The group's committed offset; absent for partitions with no commit (their lag counts from the reset position).", part),
		LostRecords: d("kafka_consumergroup_group_lost_records",
			"Records deleted by retention before the group read them: log start offset minus the committed offset when the commit is below the log start, else 0.", part),
		PartitionStatus: d("kafka_consumergroup_partition_status", "Health of the partition: "+LagStatusHelp, part),
		GroupStatus:     d("kafka_consumergroup_group_status", "Health of the group, the worst of its partitions: "+LagStatusHelp, group),
		Members:         d("kafka_consumergroup_members", "Live members of the group; 0 for an empty group.", group),
		MemberInfo: d("kafka_consumergroup_members_info",
			"1 for each live member of the group, naming its member and client ids and host.", []string{"cluster", "group", "member_id", "client_id", "host"}),
		LatestOffset:   d("kafka_partition_latest_offset", "Last stable offset of the partition (the high watermark unless a transaction is open).", topic),
		EarliestOffset: d("kafka_partition_earliest_offset", "Log start offset of the partition.", topic),
		UnstableRecords: d("kafka_partition_unstable_records",
			"High watermark minus last stable offset: records of transactions still open, not yet readable by read_committed consumers. Growing while kafka_partition_latest_offset stays put: a hung transaction pins the partition.", topic),
		PollSeconds:   d("veltrix_lag_poll_duration_seconds", "How long the latest lag poll took.", []string{"cluster"}),
		PollTimestamp: d("veltrix_lag_poll_timestamp_seconds", "Unix time of the latest lag poll.", []string{"cluster"}),
	}
}

// Describe sends every lag descriptor to ch.
func (l *Lag) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{l.Lag, l.LagSeconds, l.MaxLag, l.SumLag, l.MaxLagSeconds, l.CurrentOffset, l.LostRecords,
		l.PartitionStatus, l.GroupStatus, l.Members, l.MemberInfo, l.LatestOffset, l.EarliestOffset, l.UnstableRecords, l.PollSeconds, l.PollTimestamp} {
		ch <- d
	}
}

// NewRegistry returns a registry with the Go runtime and process collectors,
// so memory and CPU show next to veltrix's own series.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
