package handler

import "time"

// Config chooses and tunes a built-in handler (keys handler.*).
type Config struct {
	// Name is noop, log, forward or simulate.
	Name string `koanf:"name"`
	// Timeout fails a handler call that runs longer.
	Timeout time.Duration `koanf:"timeout"`
	// OutputTopic is where forward writes.
	OutputTopic string         `koanf:"output_topic"`
	Forward     ForwardConfig  `koanf:"forward"`
	Simulate    SimulateConfig `koanf:"simulate"`
}

// ForwardConfig tunes the forward handler.
type ForwardConfig struct {
	// RequireJSON rejects values that are not valid JSON.
	RequireJSON bool `koanf:"require_json"`
}

// SimulateConfig tunes the simulate handler.
type SimulateConfig struct {
	RecordDelay time.Duration `koanf:"record_delay"`
	BatchDelay  time.Duration `koanf:"batch_delay"`
	// FailureRate is the share of records, from 0 to 1, that fail.
	FailureRate float64 `koanf:"failure_rate"`
}
