package handler

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Config chooses and tunes a built-in handler (keys handler.*; the
// engine's handler.timeout is processor.Config.HandlerTimeout).
// DefaultConfig is a valid start and New checks a Config with Validate.
type Config struct {
	// Name is noop, log, forward or simulate.
	Name string `koanf:"name"`
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

// DefaultConfig returns the defaults: the noop handler.
func DefaultConfig() Config {
	return Config{Name: "noop"}
}

// Validate reports every setting the handlers cannot work with, all at
// once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains([]string{"noop", "log", "forward", "simulate"}, c.Name) {
		bad("Name %q: want noop, log, forward or simulate", c.Name)
	}
	if c.Name == "forward" && c.OutputTopic == "" {
		bad("OutputTopic is empty: the forward handler needs one")
	}
	if c.Name == "simulate" && c.Simulate.Forward && c.OutputTopic == "" {
		bad("OutputTopic is empty: simulate with Simulate.Forward needs one")
	}
	if c.Simulate.RecordDelay < 0 {
		bad("Simulate.RecordDelay %s: want at least 0s", c.Simulate.RecordDelay)
	}
	if c.Simulate.BatchDelay < 0 {
		bad("Simulate.BatchDelay %s: want at least 0s", c.Simulate.BatchDelay)
	}
	if c.Simulate.FailureRate < 0 || c.Simulate.FailureRate > 1 {
		bad("Simulate.FailureRate %g: want from 0 to 1", c.Simulate.FailureRate)
	}
	if c.Simulate.HangCall < 0 {
		bad("Simulate.HangCall %d: want at least 0", c.Simulate.HangCall)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid handler config: %w", errors.Join(errs...))
	}
	return nil
}
