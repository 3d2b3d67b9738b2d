package lag

import "time"

// Config tunes the lag monitor (keys lag.*). Defaults and ranges are in the
// config package's schema.
type Config struct {
	// Interval is the time between polls.
	Interval time.Duration `koanf:"interval"`
	// Groups is a regular expression; every group whose id it matches is
	// watched. "" watches only the groups named in Options.Groups.
	Groups string `koanf:"groups"`
	// Window is how many polls of each partition the health evaluator
	// judges; STOP and STALL need this many polls without progress.
	Window int `koanf:"window"`
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
