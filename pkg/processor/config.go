package processor

import "time"

// Config tunes the engine. Defaults and ranges are in the config package's
// schema (keys processor.*); config.Default().Processor is a valid start.
type Config struct {
	Group GroupConfig `koanf:"group"`
	// StartOffset is earliest or latest: where a group with no committed
	// offset starts.
	StartOffset string `koanf:"start_offset"`
	// IsolationLevel is read_committed or read_uncommitted (Java:
	// isolation.level): whether records of transactions that are still open
	// or were aborted reach the handler. read_committed reads only up to the
	// last stable offset, the end the lag monitor measures against.
	IsolationLevel string       `koanf:"isolation_level"`
	Batch          BatchConfig  `koanf:"batch"`
	Commit         CommitConfig `koanf:"commit"`
	Fetch          FetchConfig  `koanf:"fetch"`
	Buffer         BufferConfig `koanf:"buffer"`
	Retry          RetryConfig  `koanf:"retry"`
	// OnFailure is halt, skip or dlq: what happens to a record that still
	// fails after its retries.
	OnFailure string `koanf:"on_failure"`
	// DLQTopic receives dead letters; "" means <input topic>.dlq.
	DLQTopic  string          `koanf:"dlq_topic"`
	Rebalance RebalanceConfig `koanf:"rebalance"`
	// ShutdownTimeout bounds the final drain and commit.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
}

// GroupConfig is the consumer group membership.
type GroupConfig struct {
	ID                string        `koanf:"id"`
	SessionTimeout    time.Duration `koanf:"session_timeout"`
	RebalanceTimeout  time.Duration `koanf:"rebalance_timeout"`
	HeartbeatInterval time.Duration `koanf:"heartbeat_interval"`
	// InstanceID enables static membership when not empty.
	InstanceID string `koanf:"instance_id"`
	// Balancer is cooperative-sticky, sticky, range or roundrobin.
	Balancer string `koanf:"balancer"`
}

// BatchConfig bounds the batches handed to the handler; a batch is handed
// over as soon as any bound is reached.
type BatchConfig struct {
	MaxRecords int           `koanf:"max_records"`
	MaxBytes   int64         `koanf:"max_bytes"`
	MaxWait    time.Duration `koanf:"max_wait"`
}

// CommitConfig says when finished offsets are committed.
type CommitConfig struct {
	// Mode is batch, interval or manual.
	Mode     string        `koanf:"mode"`
	Interval time.Duration `koanf:"interval"`
}

// FetchConfig bounds what the client fetches.
type FetchConfig struct {
	MaxWait           time.Duration `koanf:"max_wait"`
	MaxBytes          int64         `koanf:"max_bytes"`
	MaxPartitionBytes int64         `koanf:"max_partition_bytes"`
}

// BufferConfig bounds queued records; fetching pauses above the bounds.
type BufferConfig struct {
	// MaxRecords is per partition.
	MaxRecords int `koanf:"max_records"`
	// MaxBytes is for the whole instance.
	MaxBytes int64 `koanf:"max_bytes"`
}

// RetryConfig is the handler retry policy.
type RetryConfig struct {
	MaxAttempts    int           `koanf:"max_attempts"`
	InitialBackoff time.Duration `koanf:"initial_backoff"`
	MaxBackoff     time.Duration `koanf:"max_backoff"`
}

// RebalanceConfig bounds what a rebalance waits for.
type RebalanceConfig struct {
	DrainTimeout time.Duration `koanf:"drain_timeout"`
}
