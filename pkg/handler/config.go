package handler

import "time"

// Config chooses and tunes a built-in handler (keys handler.*).
type Config struct {
	// Name is noop, log, forward or simulate.
	Name string `koanf:"name"`
	// Timeout fails a handler call that runs longer.
	Timeout time.Duration `koanf:"timeout"`
	// OutputTopic is where forward (and simulate with Forward) writes.
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
	// HangCall makes the n-th call of the process (from 1; 0 for none)
	// hang until the process exits, ignoring its context.
	HangCall int `koanf:"hang_call"`
	// Forward writes the records that did not fail to the output topic
	// after the delays, as the forward handler does.
	Forward bool `koanf:"forward"`
}
