package config

import "strings"

// Kind is the type of a setting's value.
type Kind int

// The kinds a setting can have. Each parses its own textual form.
const (
	String   Kind = iota // any text
	Int                  // a whole number
	Float                // a decimal number
	Bool                 // true or false
	Duration             // a Go duration with a unit: 500ms, 10s, 2m
	Bytes                // a size with a unit: 512B, 64KiB, 10MiB, 1GB
	Enum                 // one of a fixed list of words
	List                 // comma-separated words (a YAML list in a file)
	Regexp               // a regular expression (Go's RE2 syntax)
)

// String names the kind the way error messages and docs do.
func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Int:
		return "integer"
	case Float:
		return "number"
	case Bool:
		return "bool"
	case Duration:
		return "duration"
	case Bytes:
		return "size"
	case Enum:
		return "enum"
	case List:
		return "list"
	case Regexp:
		return "regexp"
	}
	return "unknown"
}

// Setting declares one configuration key once: its type, unit, default,
// range and description. The declaration drives parsing, validation, the
// environment mapping, command-line flags and the reference docs.
type Setting struct {
	Key     string   // dotted path, as in a YAML file: processor.batch.max_records
	Kind    Kind     // how the value is parsed
	Default string   // the default in textual form ("" for none)
	Min     string   // the lowest allowed value in textual form ("" for no bound)
	Max     string   // the highest allowed value in textual form ("" for no bound)
	Values  []string // the allowed words of an Enum
	Unit    string   // what a number counts, for docs: "records", "events/s"
	Help    string   // one line: what it does and why you would change it
	Flag    string   // an everyday short flag name in addition to --<key> ("" for none)
	Secret  bool     // never shown; also settable from the file named by <key>_file
	// Field is where the value lands in Config, as a dotted koanf path,
	// when that is not Key: the key stays where users look for it while
	// the package that enforces the setting owns the field.
	Field string
}

// Schema is every setting veltrix knows, in documentation order.
var Schema = []Setting{
	// Kafka connection.
	{Key: "kafka.brokers", Kind: List, Flag: "brokers",
		Help: "Bootstrap brokers as host:port, comma-separated. Empty means the embedded cluster (demo only)."},
	{Key: "kafka.client_id", Kind: String, Default: "veltrix",
		Help: "Client id sent to the brokers; shows up in broker logs and quotas."},
	{Key: "kafka.connect_timeout", Kind: Duration, Default: "10s", Min: "100ms", Max: "10m",
		Help: "How long to wait for the first broker answer before failing with an error instead of hanging."},
	{Key: "kafka.tls.enabled", Kind: Bool, Default: "false",
		Help: "Connect to the brokers over TLS (Java: security.protocol=SSL, or SASL_SSL with kafka.sasl.mechanism)."},
	{Key: "kafka.tls.ca_file", Kind: String,
		Help: "PEM file of the CA certificates that sign the brokers' certificates (Java: ssl.truststore.location); empty trusts the system's roots."},
	{Key: "kafka.tls.cert_file", Kind: String,
		Help: "PEM client certificate for brokers that require mutual TLS (Java: ssl.keystore.location); needs kafka.tls.key_file."},
	{Key: "kafka.tls.key_file", Kind: String,
		Help: "PEM private key of kafka.tls.cert_file."},
	{Key: "kafka.tls.server_name", Kind: String,
		Help: "Name the brokers' certificates must hold; empty uses the host of each broker's address."},
	{Key: "kafka.tls.insecure_skip_verify", Kind: Bool, Default: "false",
		Help: "Accept any broker certificate without verifying it: anyone on the path can read and change the traffic. For tests only; warned at every start."},
	{Key: "kafka.sasl.mechanism", Kind: Enum, Default: "none", Values: []string{"none", "plain", "scram-sha-256", "scram-sha-512", "oauthbearer"},
		Help: "SASL authentication to the brokers (Java: sasl.mechanism); plain sends the password as it is, so use it over TLS only."},
	{Key: "kafka.sasl.username", Kind: String,
		Help: "User name for plain and scram-*."},
	{Key: "kafka.sasl.password", Kind: String, Secret: true,
		Help: "Password for plain and scram-*; never shown. Prefer kafka.sasl.password_file or the environment: a flag shows in ps."},
	{Key: "kafka.sasl.password_file", Kind: String,
		Help: "File holding kafka.sasl.password (a mounted Kubernetes Secret), read at start; a trailing newline is dropped."},
	{Key: "kafka.sasl.oauth.token_file", Kind: String,
		Help: "oauthbearer: file holding the token (a JWT), read at every authentication, so a token rotated on disk is used by the next connection. Or set kafka.sasl.oauth.token_url instead."},
	{Key: "kafka.sasl.oauth.token_url", Kind: String,
		Help: "oauthbearer: the identity provider's OAuth 2.0 token endpoint; tokens are fetched from it by the client credentials grant, kept while valid and fetched anew a minute before they expire. https is verified against the system's roots (SSL_CERT_FILE adds a CA)."},
	{Key: "kafka.sasl.oauth.client_id", Kind: String,
		Help: "oauthbearer: client id at kafka.sasl.oauth.token_url."},
	{Key: "kafka.sasl.oauth.client_secret", Kind: String, Secret: true,
		Help: "oauthbearer: client secret at kafka.sasl.oauth.token_url; never shown. Prefer kafka.sasl.oauth.client_secret_file or the environment: a flag shows in ps."},
	{Key: "kafka.sasl.oauth.client_secret_file", Kind: String,
		Help: "File holding kafka.sasl.oauth.client_secret (a mounted Kubernetes Secret), read at start; a trailing newline is dropped."},
	{Key: "kafka.sasl.oauth.scopes", Kind: List,
		Help: "oauthbearer: scopes requested with every token from kafka.sasl.oauth.token_url, comma-separated; empty leaves them to the identity provider."},
	{Key: "kafka.sasl.oauth.extensions", Kind: List,
		Help: "oauthbearer: SASL extensions (RFC 7628) sent with every authentication, key=value, comma-separated; Confluent Cloud wants logicalCluster=lkc-...,identityPoolId=pool-.... Keys are letters only; values printable ASCII."},

	// The topic events flow through.
	{Key: "topic.name", Kind: String, Default: "events", Flag: "topic",
		Help: "The input topic: what produce writes to and process consumes. For several, set topic.names or topic.pattern instead (exactly one of the three)."},
	{Key: "topic.names", Kind: List,
		Help: "Several input topics for process, comma-separated: one group consumes them all, a lane per topic and partition; lag reports only these. Excludes topic.name and topic.pattern."},
	{Key: "topic.pattern", Kind: Regexp,
		Help: "Input topics for process by regular expression, matched against the whole name and again every topic.refresh, so topics created later are consumed; lag reports only matching topics. Dead-letter and output topics are never consumed. Excludes topic.name and topic.names."},
	{Key: "topic.refresh", Kind: Duration, Default: "30s", Min: "1s", Max: "1h",
		Help: "With topic.pattern: how often the cluster's topics are listed again (the client's metadata refresh), so a new matching topic is consumed within this time."},
	{Key: "topic.partitions", Kind: Int, Default: "6", Min: "1", Max: "10000", Unit: "partitions", Flag: "partitions",
		Help: "Partitions when veltrix creates the topic; the most processor instances that can share the work."},
	{Key: "topic.replication_factor", Kind: Int, Default: "-1", Min: "-1", Max: "32", Unit: "replicas",
		Help: "Replicas when veltrix creates the topic; -1 takes the broker's default.replication.factor."},
	{Key: "topic.create", Kind: Bool, Default: "true",
		Help: "Create missing topics (input, output, dead letters) at start; when false a missing topic is an error."},

	// Producing.
	{Key: "producer.acks", Kind: Enum, Default: "all", Values: []string{"all", "leader", "none"},
		Help: "Acknowledgements a write waits for (Java: acks). Only all survives a broker loss."},
	{Key: "producer.idempotent", Kind: Bool, Default: "true",
		Help: "Idempotent writes: broker-side de-duplication of retries (Java: enable.idempotence). Needs acks=all."},
	{Key: "producer.linger", Kind: Duration, Default: "1ms", Min: "0s", Max: "10s",
		Help: "How long a batch may wait for more records before it is sent (Java: linger.ms); adds up to this much latency, while batches still fill under load as requests are in flight."},
	{Key: "producer.batch_max_bytes", Kind: Bytes, Default: "1MiB", Min: "1KiB", Max: "100MiB",
		Help: "Largest record batch sent to one partition (Java: batch.size, but an upper bound); at most 100MiB, the largest request the client writes (the broker's message.max.bytes, 1MiB by default, usually binds first)."},
	{Key: "producer.compression", Kind: Enum, Default: "lz4", Values: []string{"none", "gzip", "snappy", "lz4", "zstd"},
		Help: "Batch compression codec (Java: compression.type)."},
	{Key: "producer.max_buffered_records", Kind: Int, Default: "10000", Min: "1", Max: "10000000", Unit: "records",
		Help: "Records buffered before produce blocks: bounds the producer's memory (Java: buffer.memory, counted in records)."},
	{Key: "producer.delivery_timeout", Kind: Duration, Default: "2m", Min: "1s", Max: "24h",
		Help: "How long a record may wait for a successful write, retries included, before it counts as failed (Java: delivery.timeout.ms). It counts from the produce call; for forward, from each handler call, never from the source timestamp forwarded records keep, so a backlog of any age can be forwarded."},
	{Key: "producer.rate", Kind: Float, Default: "1000", Min: "0", Max: "10000000", Unit: "events/s", Flag: "rate",
		Help: "Generator rate; 0 produces as fast as the cluster accepts."},
	{Key: "producer.count", Kind: Int, Default: "0", Min: "0", Unit: "events", Flag: "count",
		Help: "Events to generate; 0 means no limit (stop with --duration or Ctrl-C)."},
	{Key: "producer.duration", Kind: Duration, Default: "0s", Min: "0s", Flag: "duration",
		Help: "How long to generate; 0 means no limit."},
	{Key: "producer.size", Kind: Bytes, Default: "100B", Min: "1B", Max: "16MiB", Flag: "size",
		Help: "Value size of each generated event."},
	{Key: "producer.keys", Kind: Int, Default: "1000", Min: "0", Max: "100000000", Unit: "keys", Flag: "keys",
		Help: "Distinct keys of generated events (key cardinality); 0 sends events without keys."},
	{Key: "producer.id", Kind: String,
		Help: "Producer id stamped on every generated event for delivery checks; empty means hostname-pid."},
	{Key: "producer.identity_headers", Kind: Bool, Default: "false",
		Help: "Also carry each generated event's identity in two headers (veltrix-producer, veltrix-seq), for pipelines that rewrite values but keep headers; otherwise only its JSON value carries it (and the headers only where the value is too small for the JSON). On 100-byte events the headers cost Kafka about 30% of the records per second."},

	// Processing.
	{Key: "processor.group.id", Kind: String, Default: "veltrix", Flag: "group",
		Help: "Consumer group id: processors with the same id share the topic's partitions."},
	{Key: "processor.group.session_timeout", Kind: Duration, Default: "45s", Min: "1s", Max: "1h",
		Help: "A member that does not heartbeat for this long is removed from the group (Java: session.timeout.ms)."},
	{Key: "processor.group.rebalance_timeout", Kind: Duration, Default: "60s", Min: "1s", Max: "1h",
		Help: "How long members have to finish in-flight work and rejoin during a rebalance (Java: max.poll.interval.ms); also how long the input topic may stay unreadable (deleted, or recreated with a new ID) before the processor stops with an error."},
	{Key: "processor.group.heartbeat_interval", Kind: Duration, Default: "3s", Min: "100ms", Max: "10m",
		Help: "How often a member heartbeats; keep it well below the session timeout (Java: heartbeat.interval.ms)."},
	{Key: "processor.group.instance_id", Kind: String,
		Help: "Static membership id (Java: group.instance.id): a member that restarts within the session timeout keeps its partitions without a rebalance."},
	{Key: "processor.group.balancer", Kind: Enum, Default: "cooperative-sticky", Values: []string{"cooperative-sticky", "sticky", "range", "roundrobin"},
		Help: "Partition assignment strategy; cooperative-sticky moves only the partitions that must move."},
	{Key: "processor.start_offset", Kind: Enum, Default: "earliest", Values: []string{"earliest", "latest"},
		Help: "Where a group with no committed offset starts (Java: auto.offset.reset)."},
	{Key: "processor.isolation_level", Kind: Enum, Default: "read_committed", Values: []string{"read_committed", "read_uncommitted"},
		Help: "read_committed hands over only committed transactional records and skips aborted ones; read_uncommitted also hands over records of open and aborted transactions (Java: isolation.level)."},
	{Key: "processor.batch.max_records", Kind: Int, Default: "500", Min: "1", Max: "1000000", Unit: "records",
		Help: "Most records handed to the handler in one batch."},
	{Key: "processor.batch.max_bytes", Kind: Bytes, Default: "1MiB", Min: "1B", Max: "1GiB",
		Help: "Most value and key bytes in one batch (a single larger record still forms a batch of one)."},
	{Key: "processor.batch.max_wait", Kind: Duration, Default: "0s", Min: "0s", Max: "1m",
		Help: "How long a partition waits to fill a batch once it has a record; 0 hands over whatever is queued at once, so batches grow only while the handler is busy (lowest latency)."},
	{Key: "processor.commit.mode", Kind: Enum, Default: "interval", Values: []string{"batch", "interval", "manual"},
		Help: "batch commits synchronously after each handled batch; interval commits finished work every commit.interval; manual leaves it to the Go API."},
	{Key: "processor.commit.interval", Kind: Duration, Default: "1s", Min: "10ms", Max: "1h",
		Help: "How often finished offsets are committed in interval mode, bounding the duplicates a crash can cause; in batch mode, how often a failed commit is retried."},
	{Key: "processor.fetch.max_wait", Kind: Duration, Default: "500ms", Min: "10ms", Max: "1m",
		Help: "Longest the broker holds a fetch waiting for data (Java: fetch.max.wait.ms); the client accepts no less than 10ms."},
	{Key: "processor.fetch.max_bytes", Kind: Bytes, Default: "50MiB", Min: "1KiB", Max: "100MiB",
		Help: "Most bytes one fetch response may carry (Java: fetch.max.bytes); the engine asks for at most a quarter of processor.buffer.max_bytes; at most 100MiB, the largest response the client reads."},
	{Key: "processor.fetch.max_partition_bytes", Kind: Bytes, Default: "1MiB", Min: "1KiB", Max: "1GiB",
		Help: "Most bytes per partition in one fetch (Java: max.partition.fetch.bytes); times partitions bounds fetch memory. The engine asks for less once it knows the record size: about a quarter of processor.buffer.max_records per fetch, at least 64KiB, so pausing a partition never discards much fetched data."},
	{Key: "processor.buffer.max_records", Kind: Int, Default: "10000", Min: "1", Max: "100000000", Unit: "records",
		Help: "Records queued per partition before its fetching pauses (backpressure)."},
	{Key: "processor.buffer.max_bytes", Kind: Bytes, Default: "64MiB", Min: "1KiB", Max: "64GiB",
		Help: "Memory budget for records queued across all partitions, counting key, value, headers and about 176 bytes of overhead per record; fetching pauses above it."},
	{Key: "processor.retry.max_attempts", Kind: Int, Default: "3", Min: "1", Max: "1000", Unit: "attempts",
		Help: "Handler attempts per batch (and per isolated record) before on_failure applies."},
	{Key: "processor.retry.initial_backoff", Kind: Duration, Default: "100ms", Min: "0s", Max: "1h",
		Help: "Wait before the first retry; doubles each attempt, with jitter."},
	{Key: "processor.retry.max_backoff", Kind: Duration, Default: "5s", Min: "0s", Max: "1h",
		Help: "Longest wait between retries."},
	{Key: "processor.on_failure", Kind: Enum, Default: "halt", Values: []string{"halt", "skip", "dlq"},
		Help: "What happens to a record that still fails after its retries: halt stops its partition, skip counts and drops it, dlq writes it to the dead-letter topic."},
	{Key: "processor.dlq_topic", Kind: String,
		Help: "Dead-letter topic for on_failure=dlq; empty means <topic.name>.dlq."},
	{Key: "processor.ordering", Kind: Enum, Default: "partition", Values: []string{"partition", "key", "none"},
		Help: "Which records of a partition may be handled at once: partition hands them over in offset order, one call at a time per partition; key keeps offset order per key, one call at a time per key, different keys concurrently up to processor.concurrency; none runs any record concurrently up to that bound. Key and none commit the lowest unfinished offset (docs/ordering.md)."},
	{Key: "processor.concurrency", Kind: Int, Default: "16", Min: "1", Max: "10000", Unit: "calls",
		Help: "Most handler calls in flight per partition with ordering key or none (sub-lanes per partition); raise it for an I/O-bound handler instead of adding partitions. Partition ordering ignores it."},
	{Key: "processor.max_in_flight", Kind: Int, Default: "5000", Min: "1", Max: "10000000", Unit: "records",
		Help: "With ordering key or none, most records of a partition taken past its lowest unfinished offset (the offset window); when the window is full the partition's queue fills and its fetching pauses. Bounds memory and the records a crash redoes."},
	{Key: "processor.rebalance.drain_timeout", Kind: Duration, Default: "10s", Min: "0s", Max: "1h",
		Help: "How long revoked partitions may finish their in-flight batches (one deadline for all) before they are released; keep it below the rebalance timeout."},
	{Key: "processor.shutdown_timeout", Kind: Duration, Default: "30s", Min: "0s", Max: "1h",
		Help: "How long shutdown waits for in-flight work (one deadline for every partition) before the final commit; rebalances wait meanwhile, so keep it below the rebalance timeout."},
	{Key: "processor.guarantee", Kind: Enum, Default: "at_least_once", Values: []string{"at_least_once", "exactly_once"},
		Help: "at_least_once commits offsets after the work (a crash replays up to a commit interval of output); exactly_once commits the handler's output and the input offsets in one Kafka transaction, so read_committed readers see each input record's output once. exactly_once needs a handler whose only effect is writing to Kafka (forward, simulate with handler.simulate.forward, or a Go handler producing through processor.TransactClient), producer.acks=all and producer.idempotent=true; it covers the output and dead-letter topics and the offsets, not effects outside Kafka. See docs/delivery.md."},
	{Key: "processor.transaction.interval", Kind: Duration, Default: "100ms", Min: "10ms", Max: "1m",
		Help: "exactly_once: how long a transaction stays open before every partition finishes what was fetched and the output and offsets commit together; read_committed readers see the output up to this much later, and an abort redoes up to this much work."},
	{Key: "processor.transaction.max_records", Kind: Int, Default: "0", Min: "0", Max: "100000000", Unit: "records",
		Help: "exactly_once: end a transaction early once this many records were fetched in it; 0 means only the interval ends it."},
	{Key: "processor.transaction.id", Kind: String,
		Help: "exactly_once: the transactional id; empty derives <group>-<processor.group.instance_id>, or, without static membership, a new random id per start. Keep it stable per member across restarts (a StatefulSet pod name) and unique among running members: a restarted member then aborts its predecessor's open transaction at once instead of after processor.transaction.timeout."},
	{Key: "processor.transaction.timeout", Kind: Duration, Default: "1m", Min: "1s", Max: "15m",
		Help: "exactly_once: the transaction timeout the brokers enforce (Java: transaction.timeout.ms; at most the brokers' transaction.max.timeout.ms, 15m by default): a transaction of a hung or dead member is aborted after it, which unpins the output's last stable offset. A transaction whose end waits more than half of it for a running handler call is aborted."},

	// Handlers.
	{Key: "handler.name", Kind: Enum, Default: "noop", Values: []string{"noop", "log", "forward", "simulate"}, Flag: "handler",
		Help: "Built-in handler: noop counts and drops, log prints, forward writes to the output topic, simulate adds delay and failures."},
	{Key: "handler.timeout", Kind: Duration, Default: "30s", Min: "1ms", Max: "1h", Field: "processor.handler_timeout",
		Help: "A handler call that takes longer has its context cancelled and is retried with backoff (a slow downstream, not a failed record); the next call on the partition waits for it. Keep it below the rebalance timeout."},
	{Key: "handler.output_topic", Kind: String, Flag: "output-topic",
		Help: "Topic the forward handler writes to; keys, headers and timestamps (the source event time) are kept. {topic} in the name is replaced by each record's source topic ({topic}.out: orders to orders.out), for one output per input; without it every input goes to the one topic."},
	{Key: "handler.forward.require_json", Kind: Bool, Default: "false",
		Help: "forward handler: reject values that are not valid JSON (they go where on_failure says)."},
	{Key: "handler.simulate.record_delay", Kind: Duration, Default: "0s", Min: "0s", Max: "1m",
		Help: "simulate handler: time spent per record."},
	{Key: "handler.simulate.batch_delay", Kind: Duration, Default: "0s", Min: "0s", Max: "1m",
		Help: "simulate handler: time spent per batch."},
	{Key: "handler.simulate.failure_rate", Kind: Float, Default: "0", Min: "0", Max: "1", Unit: "fraction",
		Help: "simulate handler: share of records that fail, chosen by a hash of the record, so a retry fails the same way."},
	{Key: "handler.simulate.hang_call", Kind: Int, Default: "0", Min: "0", Max: "1000000000", Unit: "calls",
		Help: "simulate handler: the n-th handler call of the process (from 1; 0: none) hangs until the process exits, ignoring its context, like a call stuck without a deadline (fault tests)."},
	{Key: "handler.simulate.forward", Kind: Bool, Default: "false",
		Help: "simulate handler: after the delays, write the records that did not fail to handler.output_topic as forward does, so what was handled can be verified."},

	// The deployment (issue 6): what doctor and plan check the settings
	// against. No command but doctor and plan reads them.
	{Key: "deploy.instances", Kind: Int, Default: "1", Min: "1", Max: "10000", Unit: "instances",
		Help: "Processor instances planned for the group; doctor warns when they outnumber the topic's partitions, since the extra ones sit idle."},
	{Key: "deploy.max_instances", Kind: Int, Default: "0", Min: "0", Max: "10000", Unit: "instances",
		Help: "The autoscaler's maximum instances; 0 means no autoscaler (the group stays at deploy.instances)."},
	{Key: "deploy.expected_rate", Kind: Float, Default: "0", Min: "0", Max: "100000000", Unit: "events/s",
		Help: "Peak event rate into the topic; doctor sizes crash duplicates and retention headroom with it; 0 means unknown."},
	{Key: "deploy.record_size", Kind: Bytes, Default: "1KiB", Min: "1B", Max: "16MiB",
		Help: "Typical record size (key and value) in production; doctor estimates memory and retention headroom with it."},
	{Key: "deploy.p99_target", Kind: Duration, Default: "0s", Min: "0s", Max: "1h",
		Help: "End-to-end p99 latency the pipeline must meet; doctor checks linger and batch waits against it; 0 means no target."},
	{Key: "deploy.memory_limit", Kind: Bytes, Default: "0B", Min: "0B", Max: "1TiB",
		Help: "Memory limit of one processor instance; 0 reads this machine's cgroup limit, as when doctor runs in the container."},
	{Key: "deploy.gc_percent", Kind: Int, Default: "200", Min: "50", Max: "1000", Unit: "%",
		Help: "Go's GOGC for veltrix process: the heap grows this much past the live data before a collection. 200 (Go's default is 100) halves the collections a backlog drain pays for (10-30% of its CPU in BENCHMARKS.md) at up to 1.5x the heap; the GOGC environment variable, when set, wins. With a memory limit known (deploy.memory_limit or the cgroup) and GOMEMLIMIT unset, veltrix process also sets it as the collector's soft limit, so the heap tightens before the kernel kills."},
	{Key: "deploy.outage_tolerance", Kind: Duration, Default: "24h", Min: "0s", Max: "8760h",
		Help: "How long a stopped group must be able to stay down without losing unconsumed data to retention."},

	// The lag monitor (issue 4): veltrix lag, and inside process and demo
	// for their own group (which ignore lag.groups and lag.serve).
	{Key: "lag.interval", Kind: Duration, Default: "10s", Min: "100ms", Max: "1h",
		Help: "Time between lag polls; offsets and statuses are this fresh, time lag is measured at scrape time."},
	{Key: "lag.groups", Kind: Regexp, Default: ".*", Flag: "group",
		Help: "veltrix lag: regular expression of the group ids to watch, matched anywhere in the id (not anchored: ^name$ for one group); empty watches none but the named ones."},
	{Key: "lag.window", Kind: Int, Default: "10", Min: "2", Max: "1000", Unit: "polls",
		Help: "Polls of history per partition the health evaluator judges for trends (WARN while falling behind, STALL); a group with lag and no members is STOP at its next poll regardless."},
	{Key: "lag.warn_time_lag", Kind: Duration, Default: "10s", Min: "0s", Max: "8760h",
		Help: "A partition whose time lag exceeds this is WARN at once, whatever its trend; 0 turns the rule off."},
	{Key: "lag.cluster", Kind: String, Default: "default",
		Help: "Value of the cluster label on every lag series, to tell clusters apart in one Prometheus."},
	{Key: "lag.reset", Kind: Enum, Default: "earliest", Values: []string{"earliest", "latest"},
		Help: "Where a group with no committed offset would start (its auto.offset.reset): the lag of such partitions counts from there. process and demo use processor.start_offset."},
	{Key: "lag.serve", Kind: String, Default: ":9465", Flag: "serve",
		Help: "veltrix lag: address for /metrics, /healthz and /readyz (ready after the first poll)."},

	// The autoscaling recommendation (issue 14): exported by veltrix lag
	// --serve, printed by veltrix scale.
	{Key: "autoscale.target_drain_time", Kind: Duration, Default: "2m", Min: "1s", Max: "24h",
		Help: "How soon the recommended members should work off the current lag, on top of keeping up with the input."},
	{Key: "autoscale.target_utilization", Kind: Float, Default: "0.8", Min: "0.1", Max: "1", Unit: "fraction",
		Help: "Share of a member's measured capacity the input may take at steady state; the rest is headroom for bursts."},
	{Key: "autoscale.scale_down_delay", Kind: Duration, Default: "5m", Min: "0s", Max: "24h",
		Help: "How long a lower member count must be wanted without interruption before the recommendation drops (each scale-down is a rebalance); scale-up is at once."},
	{Key: "autoscale.min_replicas", Kind: Int, Default: "1", Min: "1", Max: "10000", Unit: "members",
		Help: "Fewest members recommended; never 0, so a broker replacement or a metrics outage cannot scale the group away."},
	{Key: "autoscale.max_replicas", Kind: Int, Default: "0", Min: "0", Max: "10000", Unit: "members",
		Help: "Most members recommended; 0 means the input partitions, beyond which members sit idle."},

	// Observability.
	{Key: "metrics.addr", Kind: String, Default: ":9464", Flag: "metrics-addr",
		Help: "Address for /metrics, /healthz and /readyz; empty disables the server; port 0 picks a free port."},
	{Key: "metrics.web_config_file", Kind: String,
		Help: "Prometheus exporter-toolkit web config file (tls_server_config, basic_auth_users) for metrics.addr and lag.serve: HTTPS and basic auth on every route; empty serves plain HTTP to anyone."},
	{Key: "log.level", Kind: Enum, Default: "info", Values: []string{"debug", "info", "warn", "error"},
		Help: "Least severe log level written to stderr."},
	{Key: "log.format", Kind: Enum, Default: "text", Values: []string{"text", "json"},
		Help: "Log line format."},

	// The demo.
	{Key: "demo.duration", Kind: Duration, Default: "0s", Min: "0s", Flag: "duration",
		Help: "How long the demo runs; 0 runs until Ctrl-C."},
	{Key: "demo.members", Kind: Int, Default: "2", Min: "1", Max: "64", Unit: "members", Flag: "members",
		Help: "Processor group members the demo runs in-process."},

	// The standalone embedded broker.
	{Key: "broker.port", Kind: Int, Default: "9092", Min: "0", Max: "65535", Flag: "port",
		Help: "Port veltrix broker listens on at 127.0.0.1; 0 picks a free port."},
	{Key: "broker.data_dir", Kind: String,
		Help: "Directory where veltrix broker keeps its data across restarts; empty keeps it in memory."},
}

// Sections returns every top-level section as a key prefix ("kafka.",
// "processor.", ...), in schema order.
func Sections() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range Schema {
		sec := s.Key[:strings.IndexByte(s.Key, '.')+1]
		if !seen[sec] {
			seen[sec] = true
			out = append(out, sec)
		}
	}
	return out
}

// Lookup returns the setting declared for key.
func Lookup(key string) (Setting, bool) {
	for _, s := range Schema {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}
