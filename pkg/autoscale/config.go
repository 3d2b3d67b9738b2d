package autoscale

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the recommendation (keys autoscale.*). DefaultConfig is a
// valid start; New checks a Config with Validate; the config package's
// schema holds the same defaults, and a test keeps them equal.
type Config struct {
	// TargetDrainTime is how soon the group should work off its current
	// lag, on top of keeping up with the input.
	TargetDrainTime time.Duration `koanf:"target_drain_time"`
	// TargetUtilization is the share of a member's measured capacity the
	// input may take at steady state: the headroom that absorbs bursts
	// before lag builds up.
	TargetUtilization float64 `koanf:"target_utilization"`
	// ScaleDownDelay is how long a lower count must be recommended without
	// interruption before the recommendation drops (to the highest count
	// wanted meanwhile); each scale-down costs a rebalance. Scale-up is at
	// once.
	ScaleDownDelay time.Duration `koanf:"scale_down_delay"`
	// MinReplicas is the least ever recommended; never 0, so the group
	// keeps running through a broker replacement or a metrics outage.
	MinReplicas int `koanf:"min_replicas"`
	// MaxReplicas caps the recommendation below the partitions; 0 caps at
	// the partitions only.
	MaxReplicas int `koanf:"max_replicas"`
}

// DefaultConfig returns the defaults: drain the lag within 2 minutes, run
// members at 80% of their capacity, scale down after 5 minutes, at least
// one member, at most one per partition.
func DefaultConfig() Config {
	return Config{TargetDrainTime: 2 * time.Minute, TargetUtilization: 0.8, ScaleDownDelay: 5 * time.Minute, MinReplicas: 1}
}

// Validate reports every setting the recommender cannot work with, all at
// once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.TargetDrainTime < time.Second {
		bad("TargetDrainTime %s: want at least 1s", c.TargetDrainTime)
	}
	if c.TargetUtilization < 0.1 || c.TargetUtilization > 1 {
		bad("TargetUtilization %g: want 0.1 to 1", c.TargetUtilization)
	}
	if c.ScaleDownDelay < 0 {
		bad("ScaleDownDelay %s: want 0 or more", c.ScaleDownDelay)
	}
	if c.MinReplicas < 1 {
		bad("MinReplicas %d: want at least 1", c.MinReplicas)
	}
	if c.MaxReplicas < 0 || (c.MaxReplicas > 0 && c.MaxReplicas < c.MinReplicas) {
		bad("MaxReplicas %d: want 0 (the partitions) or at least MinReplicas (%d)", c.MaxReplicas, c.MinReplicas)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid autoscale config: %w", errors.Join(errs...))
	}
	return nil
}
