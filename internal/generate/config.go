package generate

import (
	"errors"
	"fmt"
	"time"
)

// Config shapes the generated events. Its keys share the producer section
// with the client's settings (producer.rate, producer.size, ...), so a
// configuration file did not change when the generator left pkg/producer.
type Config struct {
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
	// IdentityHeaders stamps the identity headers on every generated event,
	// not only on those whose value is too small to hold it.
	IdentityHeaders bool `koanf:"identity_headers"`
}

// DefaultConfig returns the defaults: 1000 events/s of 100 bytes over 1000
// keys, without a count or time limit.
func DefaultConfig() Config {
	return Config{Rate: 1000, Size: 100, Keys: 1000}
}

// Validate reports every setting the generator cannot work with, all at
// once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Rate < 0 {
		bad("Rate %g: want at least 0", c.Rate)
	}
	if c.Count < 0 {
		bad("Count %d: want at least 0", c.Count)
	}
	if c.Duration < 0 {
		bad("Duration %s: want at least 0s", c.Duration)
	}
	if c.Size < 1 {
		bad("Size %d: want at least 1 byte", c.Size)
	}
	if c.Keys < 0 {
		bad("Keys %d: want at least 0", c.Keys)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid generator config: %w", errors.Join(errs...))
	}
	return nil
}
