package lag

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Config tunes the lag monitor (keys lag.*). DefaultConfig is a valid start
// and New checks a Config with Validate; the config package's schema holds
// the same defaults, a test keeps them equal, and adds the CLI's upper
// bounds.
type Config struct {
	// Interval is the time between polls.
	Interval time.Duration `koanf:"interval"`
	// Groups is a regular expression; every group whose id it matches is
	// watched. "" watches only the groups named in Options.Groups.
	Groups string `koanf:"groups"`
	// Window is how many polls of each partition the health evaluator
	// judges for trends; a stuck owned partition is STALL, and a partition
	// nobody owns in a group that has members STOP, after this many polls
	// without progress (a group with no members is STOP at its next poll).
	Window int `koanf:"window"`
	// WarnTimeLag makes a partition whose time lag exceeds it WARN at once,
	// whatever its trend; 0 turns the rule off.
	WarnTimeLag time.Duration `koanf:"warn_time_lag"`
	// Cluster is the value of the cluster label on every series.
	Cluster string `koanf:"cluster"`
	// Reset is where a group with no committed offset for a partition would
	// start (earliest or latest): the lag of such a partition is measured
	// from there.
	Reset string `koanf:"reset"`
	// Serve is the address veltrix lag serves /metrics, /healthz and
	// /readyz on.
	Serve string `koanf:"serve"`
}

// DefaultConfig returns the defaults: every group polled every 10s, trends
// judged over 10 polls, WARN at once beyond 10s of time lag.
func DefaultConfig() Config {
	return Config{Interval: 10 * time.Second, Groups: ".*", Window: 10, WarnTimeLag: 10 * time.Second,
		Cluster: "default", Reset: "earliest", Serve: ":9465"}
}

// Validate reports every setting the monitor cannot work with, all at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Interval < 100*time.Millisecond {
		bad("Interval %s: want at least 100ms", c.Interval)
	}
	if _, err := regexp.Compile(c.Groups); err != nil {
		bad("Groups %q: want a regular expression: %w", c.Groups, err)
	}
	if c.Window < 2 {
		bad("Window %d: want at least 2", c.Window)
	}
	if c.WarnTimeLag < 0 {
		bad("WarnTimeLag %s: want 0 (off) or more", c.WarnTimeLag)
	}
	if c.Reset != "earliest" && c.Reset != "latest" {
		bad("Reset %q: want earliest or latest", c.Reset)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid lag config: %w", errors.Join(errs...))
	}
	return nil
}
