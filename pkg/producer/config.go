package producer

import "time"

// Config tunes the producer client and the event generator. Defaults and
// ranges are in the config package's schema (keys producer.*).
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

	// Rate is the generator's events per second; 0 is unlimited.
	Rate float64 `koanf:"rate"`
	// Count is how many events to generate; 0 is unlimited.
	Count int `koanf:"count"`
	// Duration is how long to generate; 0 is unlimited.
	Duration time.Duration `koanf:"duration"`
	// Size is each generated value's size in bytes.
	Size int64 `koanf:"size"`
	// Keys is the key cardinality; 0 generates events without keys.
	Keys int `koanf:"keys"`
	// ID is stamped on every generated event; "" means hostname-pid.
	ID string `koanf:"id"`
}
