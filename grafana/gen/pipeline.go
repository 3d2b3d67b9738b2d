package gen

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// processSel keeps Go and process series of veltrix processes only (not
// Prometheus's own, or other jobs'): those that export a veltrix series.
const processSel = `and on (job, instance) {__name__=~"veltrix_ready|veltrix_produced_records_total", ` + `cluster=~"$cluster"}`

// Pipeline is the throughput, latency and health view of producers and
// processors, from veltrix's own metrics.
func Pipeline() *dashboard.DashboardBuilder {
	b := board("veltrix / Pipeline", PipelineUID,
		"Producers and processors: rates, latency, batches, commits, failures, handler timeouts, dead-letter errors, rebalances, backpressure and memory. From veltrix_* metrics.")
	variables(b,
		`label_values({__name__=~"veltrix_(produced|processed)_records_total"}, cluster)`,
		`label_values(veltrix_partitions_assigned{cluster=~"$cluster"}, group)`,
		`label_values({__name__=~"veltrix_(produced|processed)_records_total", cluster=~"$cluster"}, topic)`)

	b.WithRow(dashboard.NewRowBuilder("Throughput"))
	b.WithPanel(statPanel("Produced", "Records acknowledged by the brokers per second, all producers.", "ops", 6, 4,
		steps("blue"),
		query(`sum(rate(veltrix_produced_records_total{`+topicSel+`}[$__rate_interval]))`, "produced")))
	b.WithPanel(statPanel("Processed", "Records the handlers finished per second, all processors.", "ops", 6, 4,
		steps("blue"),
		query(`sum(rate(veltrix_processed_records_total{`+topicSel+`}[$__rate_interval]))`, "processed")))
	b.WithPanel(statPanel("End-to-end p99", "99th percentile of record timestamp to end of handling, all processors.", "s", 6, 4,
		steps("green", 0.5, "yellow", 5, "red"),
		query(`histogram_quantile(0.99, sum by (le) (rate(veltrix_end_to_end_latency_seconds_bucket{`+topicSel+`}[$__rate_interval])))`, "p99")))
	b.WithPanel(statPanel("Failed records", "Records per second that failed after all retries (dead-lettered, skipped or halted).", "ops", 6, 4,
		steps("green", 0.001, "red"),
		query(`sum(rate(veltrix_failed_records_total{`+topicSel+`}[$__rate_interval])) or vector(0)`, "failed")))

	b.WithPanel(series("Produced and processed", "Per topic. Processed below produced for long means lag grows: see the Consumer lag dashboard.", "ops", 12, 8,
		query(`sum by (topic) (rate(veltrix_produced_records_total{`+topicSel+`}[$__rate_interval]))`, "produced {{topic}}"),
		query(`sum by (topic) (rate(veltrix_processed_records_total{`+topicSel+`}[$__rate_interval]))`, "processed {{topic}}")))
	b.WithPanel(series("Processed per instance", "Each processor's share of the work; an instance at zero owns no partitions or is stuck.", "ops", 12, 8,
		query(`sum by (instance, topic) (rate(veltrix_processed_records_total{`+topicSel+`}[$__rate_interval]))`, "{{instance}} {{topic}}")))

	b.WithRow(dashboard.NewRowBuilder("Latency and batches"))
	b.WithPanel(series("End-to-end latency", "From the record's timestamp (set by the producer) to the end of its handling: queueing in Kafka, fetch, batch wait and handler.", "s", 8, 8,
		query(`histogram_quantile(0.5, sum by (le, topic) (rate(veltrix_end_to_end_latency_seconds_bucket{`+topicSel+`}[$__rate_interval])))`, "p50 {{topic}}"),
		query(`histogram_quantile(0.99, sum by (le, topic) (rate(veltrix_end_to_end_latency_seconds_bucket{`+topicSel+`}[$__rate_interval])))`, "p99 {{topic}}")))
	b.WithPanel(series("Handler duration per batch", "Time the handler took per batch. Near processor.group.rebalance_timeout, rebalances stall.", "s", 8, 8,
		query(`histogram_quantile(0.5, sum by (le, topic) (rate(veltrix_handler_duration_seconds_bucket{`+topicSel+`}[$__rate_interval])))`, "p50 {{topic}}"),
		query(`histogram_quantile(0.99, sum by (le, topic) (rate(veltrix_handler_duration_seconds_bucket{`+topicSel+`}[$__rate_interval])))`, "p99 {{topic}}")))
	b.WithPanel(series("Batch size", "Records per batch handed to the handler. Batches grow under load up to processor.batch.max_records.", "short", 8, 8,
		query(`sum by (topic) (rate(veltrix_batch_records_sum{`+topicSel+`}[$__rate_interval])) / sum by (topic) (rate(veltrix_batch_records_count{`+topicSel+`}[$__rate_interval]))`, "mean {{topic}}"),
		query(`histogram_quantile(0.99, sum by (le, topic) (rate(veltrix_batch_records_bucket{`+topicSel+`}[$__rate_interval])))`, "p99 {{topic}}")))

	b.WithRow(dashboard.NewRowBuilder("Commits and failures"))
	b.WithPanel(series("Commits", "Offset commits per second that succeeded and failed, per group.", "ops", 8, 8,
		query(`sum by (group) (rate(veltrix_commits_total{`+groupSel+`}[$__rate_interval]))`, "ok {{group}}"),
		query(`sum by (group) (rate(veltrix_commit_errors_total{`+groupSel+`}[$__rate_interval]))`, "failed {{group}}")))
	b.WithPanel(series("Retries and failures", "Handler calls retried, and records that failed after all retries by outcome (dlq, skip, halt). Produce errors are writes that failed after retries.", "ops", 8, 8,
		query(`sum by (topic) (rate(veltrix_handler_retries_total{`+topicSel+`}[$__rate_interval]))`, "retries {{topic}}"),
		query(`sum by (topic, outcome) (rate(veltrix_failed_records_total{`+topicSel+`}[$__rate_interval]))`, "{{outcome}} {{topic}}"),
		query(`sum by (topic) (rate(veltrix_produce_errors_total{`+topicSel+`}[$__rate_interval]))`, "produce errors {{topic}}")))
	b.WithPanel(series("Dead-lettered and halted", "Records written to the dead-letter topic per second, and partitions stopped by on_failure=halt (right axis would hide them: both are zero when healthy).", "short", 8, 8,
		query(`sum by (topic) (rate(veltrix_failed_records_total{outcome="dlq", `+topicSel+`}[$__rate_interval]))`, "dead-lettered/s {{topic}}"),
		query(`sum by (group, topic) (veltrix_halted_partitions{`+groupSel+`, topic=~"$topic"})`, "halted {{group}} {{topic}}")))
	b.WithPanel(series("Handler timeouts and overdue calls", "Handler calls per second that exceeded handler.timeout: their batches are retried with backoff, never failed, so a rising line is a slow or down downstream. Overdue: calls still running past the timeout because the handler ignores its context; each keeps its partition waiting.", "short", 12, 8,
		query(`sum by (topic) (rate(veltrix_handler_timeouts_total{`+topicSel+`}[$__rate_interval]))`, "timeouts/s {{topic}}"),
		query(`sum by (group, topic) (veltrix_overdue_handler_calls{`+groupSel+`, topic=~"$topic"})`, "overdue {{group}} {{topic}}")))
	b.WithPanel(series("Dead-letter write errors", "Failed writes to the dead-letter topic per second, each after the client's own retries. A record whose dead letter cannot be written halts its partition (see halted above).", "ops", 12, 8,
		query(`sum by (topic) (rate(veltrix_dlq_errors_total{`+topicSel+`}[$__rate_interval]))`, "{{topic}}")))

	b.WithRow(dashboard.NewRowBuilder("Group and partitions"))
	b.WithPanel(series("Assigned partitions per instance", "Partitions each processor owns. Instances at zero beyond the partition count sit idle.", "short", 8, 8,
		query(`sum by (instance, group, topic) (veltrix_partitions_assigned{`+groupSel+`, topic=~"$topic"})`, "{{instance}} {{group}}/{{topic}}")))
	b.WithPanel(series("Rebalances", "Assignment changes per group and kind over each interval: assigned, revoked, lost. A steady stream is a rebalance storm.", "short", 8, 8,
		query(`sum by (group, kind) (increase(veltrix_rebalances_total{`+groupSel+`}[$__rate_interval]))`, "{{kind}} {{group}}")))
	b.WithPanel(series("Paused partitions and readiness", "Partitions paused by backpressure (queues or memory budget full), and processors not ready (/readyz).", "short", 8, 8,
		query(`sum by (instance, group) (veltrix_paused_partitions{`+groupSel+`})`, "paused {{instance}} {{group}}"),
		query(`count(veltrix_ready{cluster=~"$cluster"} == 0) or vector(0)`, "not ready")))
	b.WithPanel(series("Fetch lag per partition (processor view)", "High watermark minus what each processor has fetched, per owned partition, as of its last fetch. The lag monitor's committed-offset lag is on the Consumer lag dashboard.", "short", 24, 8,
		query(`sum by (group, topic, partition) (veltrix_partition_lag_records{`+groupSel+`, topic=~"$topic"})`, "{{group}} {{topic}}/{{partition}}")))

	b.WithRow(dashboard.NewRowBuilder("Memory and buffers"))
	b.WithPanel(series("Buffered records", "Records fetched and queued, not yet handled, per instance. Bounded by processor.buffer.max_records per partition.", "short", 8, 8,
		query(`sum by (instance, group) (veltrix_buffered_records{`+groupSel+`})`, "{{instance}} {{group}}")))
	b.WithPanel(series("Buffered bytes", "Key and value bytes queued per instance, against processor.buffer.max_bytes; and what franz-go holds in its own buffers.", "bytes", 8, 8,
		query(`sum by (instance, group) (veltrix_buffered_bytes{`+groupSel+`})`, "queued {{instance}} {{group}}"),
		query(`sum by (instance) (kafka_client_buffered_fetch_bytes{cluster=~"$cluster"})`, "client fetch buffer {{instance}}"),
		query(`sum by (instance) (kafka_client_buffered_produce_bytes{cluster=~"$cluster"})`, "client produce buffer {{instance}}")))
	b.WithPanel(series("Memory", "Resident memory and Go heap in use per veltrix process.", "bytes", 8, 8,
		query(`process_resident_memory_bytes{cluster=~"$cluster"} `+processSel, "RSS {{instance}}"),
		query(`go_memstats_heap_inuse_bytes{cluster=~"$cluster"} `+processSel, "heap {{instance}}")))
	b.WithPanel(series("Kafka client traffic", "Bytes read from and written to the brokers per second, per process (franz-go client metrics).", "Bps", 12, 8,
		query(`sum by (instance) (rate(kafka_client_read_bytes_total{cluster=~"$cluster"}[$__rate_interval]))`, "read {{instance}}"),
		query(`sum by (instance) (rate(kafka_client_write_bytes_total{cluster=~"$cluster"}[$__rate_interval]))`, "written {{instance}}")))
	b.WithPanel(series("CPU", "CPU seconds per second used by each veltrix process.", "percentunit", 12, 8,
		query(`rate(process_cpu_seconds_total{cluster=~"$cluster"}[$__rate_interval]) `+processSel, "{{instance}}")))
	return b
}
