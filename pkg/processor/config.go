package processor

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Config tunes the engine (keys processor.*, and handler.timeout for
// HandlerTimeout). DefaultConfig is a valid start and New checks a Config
// with Validate; the config package's schema holds the same defaults, a test
// keeps them equal, and adds the CLI's upper bounds.
type Config struct {
	Group GroupConfig `koanf:"group"`
	// StartOffset is earliest or latest: where a group with no committed
	// offset starts.
	StartOffset string `koanf:"start_offset"`
	// IsolationLevel is read_committed (the default; "" means it) or
	// read_uncommitted: whether records of open and aborted transactions
	// are read.
	IsolationLevel IsolationLevel `koanf:"isolation_level"`
	Batch          BatchConfig    `koanf:"batch"`
	Commit         CommitConfig   `koanf:"commit"`
	Fetch          FetchConfig    `koanf:"fetch"`
	Buffer         BufferConfig   `koanf:"buffer"`
	Retry          RetryConfig    `koanf:"retry"`
	// HandlerTimeout cancels the context of a handler call that runs
	// longer; the call is then retried with backoff (see Handler). 0 means
	// none. Its key is handler.timeout: users set it with the handler, the
	// engine enforces it.
	HandlerTimeout time.Duration `koanf:"handler_timeout"`
	// OnFailure is halt, skip or dlq: what happens to a record that still
	// fails after its retries.
	OnFailure OnFailure `koanf:"on_failure"`
	// DLQTopic receives dead letters; "" means <input topic>.dlq.
	DLQTopic  string          `koanf:"dlq_topic"`
	Rebalance RebalanceConfig `koanf:"rebalance"`
	// ShutdownTimeout bounds the final drain and commit.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`

	// Ordering is partition (the default; "" means it), key or none:
	// which records of a partition may be handled concurrently.
	Ordering Ordering `koanf:"ordering"`
	// Concurrency is the most handler calls in flight per partition in key
	// and none ordering (the number of sub-lanes); partition ordering
	// ignores it.
	Concurrency int `koanf:"concurrency"`
	// MaxInFlight bounds, in key and none ordering, the records of a
	// partition taken past its lowest unfinished offset: when that window
	// is full, the partition's queue fills and its fetching pauses.
	MaxInFlight int `koanf:"max_in_flight"`

	// Guarantee is at_least_once (the default; "" means it) or
	// exactly_once (guarantee.go, transact.go).
	Guarantee   Guarantee         `koanf:"guarantee"`
	Transaction TransactionConfig `koanf:"transaction"`
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
	Mode CommitMode `koanf:"mode"`
	// Interval is how often interval mode commits, and how often batch mode
	// retries a commit that failed.
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

// DefaultConfig returns the defaults: group veltrix from the earliest
// offset, read committed, batches of up to 500 records or 1MiB handed over
// at once, commits every second, a 64MiB queue budget, three attempts per
// batch, then halt; partition ordering (16 calls per partition and a window
// of 5,000 records once key or none ordering is chosen).
func DefaultConfig() Config {
	return Config{
		Group: GroupConfig{
			ID:                "veltrix",
			SessionTimeout:    45 * time.Second,
			RebalanceTimeout:  60 * time.Second,
			HeartbeatInterval: 3 * time.Second,
			Balancer:          "cooperative-sticky",
		},
		StartOffset:     "earliest",
		IsolationLevel:  ReadCommitted,
		Batch:           BatchConfig{MaxRecords: 500, MaxBytes: 1 << 20},
		Commit:          CommitConfig{Mode: CommitInterval, Interval: time.Second},
		Fetch:           FetchConfig{MaxWait: 500 * time.Millisecond, MaxBytes: 50 << 20, MaxPartitionBytes: 1 << 20},
		Buffer:          BufferConfig{MaxRecords: 10000, MaxBytes: 64 << 20},
		Retry:           RetryConfig{MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second},
		HandlerTimeout:  30 * time.Second,
		OnFailure:       OnFailureHalt,
		Ordering:        OrderPartition,
		Concurrency:     16,
		MaxInFlight:     5000,
		Rebalance:       RebalanceConfig{DrainTimeout: 10 * time.Second},
		ShutdownTimeout: 30 * time.Second,
		Guarantee:       AtLeastOnce,
		Transaction:     TransactionConfig{Interval: 100 * time.Millisecond, Timeout: time.Minute},
	}
}

// Validate reports every setting the engine cannot work with, all at once:
// a missing group, an unknown mode, a bound below what the engine needs,
// and the contradictions between settings.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	atLeast := func(field string, v, lo time.Duration) {
		if v < lo {
			bad("%s %s: want at least %s", field, v, lo)
		}
	}
	atLeastN := func(field string, v, lo int64, unit string) {
		if v < lo {
			bad("%s %d: want at least %d%s", field, v, lo, unit)
		}
	}

	if c.Group.ID == "" {
		bad("Group.ID is empty: want a consumer group id")
	}
	atLeast("Group.SessionTimeout", c.Group.SessionTimeout, time.Second)
	atLeast("Group.RebalanceTimeout", c.Group.RebalanceTimeout, time.Second)
	atLeast("Group.HeartbeatInterval", c.Group.HeartbeatInterval, 100*time.Millisecond)
	if c.Group.HeartbeatInterval >= c.Group.SessionTimeout {
		bad("Group.HeartbeatInterval %s: must be below Group.SessionTimeout (%s)", c.Group.HeartbeatInterval, c.Group.SessionTimeout)
	}
	if !slices.Contains([]string{"cooperative-sticky", "sticky", "range", "roundrobin"}, c.Group.Balancer) {
		bad("Group.Balancer %q: want cooperative-sticky, sticky, range or roundrobin", c.Group.Balancer)
	}
	if c.StartOffset != "earliest" && c.StartOffset != "latest" {
		bad("StartOffset %q: want earliest or latest", c.StartOffset)
	}
	if !c.IsolationLevel.valid() {
		bad("IsolationLevel %q: want %s or %s", c.IsolationLevel, ReadCommitted, ReadUncommitted)
	}
	atLeastN("Batch.MaxRecords", int64(c.Batch.MaxRecords), 1, "")
	atLeastN("Batch.MaxBytes", c.Batch.MaxBytes, 1, " bytes")
	atLeast("Batch.MaxWait", c.Batch.MaxWait, 0)
	if !c.Commit.Mode.valid() {
		bad("Commit.Mode %q: want %s, %s or %s", c.Commit.Mode, CommitBatch, CommitInterval, CommitManual)
	}
	atLeast("Commit.Interval", c.Commit.Interval, 10*time.Millisecond)
	atLeast("Fetch.MaxWait", c.Fetch.MaxWait, 10*time.Millisecond) // franz-go refuses less
	atLeastN("Fetch.MaxBytes", c.Fetch.MaxBytes, 1<<10, " bytes")
	if c.Fetch.MaxBytes > 100<<20 {
		bad("Fetch.MaxBytes %d: want at most 100MiB, the largest response the client reads", c.Fetch.MaxBytes)
	}
	atLeastN("Fetch.MaxPartitionBytes", c.Fetch.MaxPartitionBytes, 1<<10, " bytes")
	atLeastN("Buffer.MaxRecords", int64(c.Buffer.MaxRecords), 1, "")
	atLeastN("Buffer.MaxBytes", c.Buffer.MaxBytes, 1<<10, " bytes")
	if c.Batch.MaxBytes > c.Buffer.MaxBytes {
		bad("Batch.MaxBytes %d: must not exceed Buffer.MaxBytes (%d), or a full batch could never be buffered", c.Batch.MaxBytes, c.Buffer.MaxBytes)
	}
	atLeastN("Retry.MaxAttempts", int64(c.Retry.MaxAttempts), 1, "")
	atLeast("Retry.InitialBackoff", c.Retry.InitialBackoff, 0)
	atLeast("Retry.MaxBackoff", c.Retry.MaxBackoff, 0)
	if c.Retry.InitialBackoff > c.Retry.MaxBackoff {
		bad("Retry.InitialBackoff %s: must not exceed Retry.MaxBackoff (%s)", c.Retry.InitialBackoff, c.Retry.MaxBackoff)
	}
	atLeast("HandlerTimeout", c.HandlerTimeout, 0)
	if !c.OnFailure.valid() {
		bad("OnFailure %q: want %s, %s or %s", c.OnFailure, OnFailureHalt, OnFailureSkip, OnFailureDLQ)
	}
	if !c.Ordering.valid() {
		bad("Ordering %q: want %s, %s or %s", c.Ordering, OrderPartition, OrderKey, OrderNone)
	}
	atLeastN("Concurrency", int64(c.Concurrency), 1, "")
	atLeastN("MaxInFlight", int64(c.MaxInFlight), 1, "")
	atLeast("Rebalance.DrainTimeout", c.Rebalance.DrainTimeout, 0)
	atLeast("ShutdownTimeout", c.ShutdownTimeout, 0)
	errs = append(errs, c.validateGuarantee()...)
	if len(errs) > 0 {
		return fmt.Errorf("invalid processor config: %w", errors.Join(errs...))
	}
	return nil
}
