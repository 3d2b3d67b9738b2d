package producer

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Config tunes the producer client (keys producer.*). DefaultConfig is a
// valid start; the config package's schema holds the same defaults, a test
// keeps them equal, and adds the CLI's upper bounds.
type Config struct {
	// Acks is all, leader or none (Java: acks).
	Acks string `koanf:"acks"`
	// Idempotent enables idempotent writes; it needs Acks "all".
	Idempotent bool `koanf:"idempotent"`
	// Linger is how long a batch waits for more records (Java: linger.ms).
	Linger time.Duration `koanf:"linger"`
	// BatchMaxBytes caps one partition's record batch.
	BatchMaxBytes int64 `koanf:"batch_max_bytes"`
	// Compression is none, gzip, snappy, lz4 or zstd.
	Compression string `koanf:"compression"`
	// MaxBufferedRecords bounds buffered, unacknowledged records; Produce
	// blocks above it.
	MaxBufferedRecords int `koanf:"max_buffered_records"`
	// DeliveryTimeout fails a record not written within it, retries included.
	DeliveryTimeout time.Duration `koanf:"delivery_timeout"`
}

// DefaultConfig returns the defaults: idempotent writes acknowledged by all
// in-sync replicas, lz4 batches of up to 1MiB lingering 1ms.
func DefaultConfig() Config {
	return Config{
		Acks:               "all",
		Idempotent:         true,
		Linger:             time.Millisecond,
		BatchMaxBytes:      1 << 20,
		Compression:        "lz4",
		MaxBufferedRecords: 10000,
		DeliveryTimeout:    2 * time.Minute,
	}
}

// Validate reports every setting the client cannot work with, all at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains([]string{"all", "leader", "none"}, c.Acks) {
		bad("Acks %q: want all, leader or none", c.Acks)
	} else if c.Idempotent && c.Acks != "all" {
		bad("Acks %q: idempotent writes require all (or Idempotent false)", c.Acks)
	}
	if c.Linger < 0 {
		bad("Linger %s: want at least 0s", c.Linger)
	}
	if c.BatchMaxBytes < 1<<10 {
		bad("BatchMaxBytes %d: want at least 1KiB", c.BatchMaxBytes)
	}
	if !slices.Contains([]string{"none", "gzip", "snappy", "lz4", "zstd"}, c.Compression) {
		bad("Compression %q: want none, gzip, snappy, lz4 or zstd", c.Compression)
	}
	if c.MaxBufferedRecords < 1 {
		bad("MaxBufferedRecords %d: want at least 1", c.MaxBufferedRecords)
	}
	if c.DeliveryTimeout < time.Second {
		bad("DeliveryTimeout %s: want at least 1s", c.DeliveryTimeout)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid producer config: %w", errors.Join(errs...))
	}
	return nil
}
