package config

import "time"

// DeployConfig describes the deployment the settings must hold up in: how
// many instances run, how fast events arrive, how big they are, the latency
// target and the memory limit. Only veltrix config doctor and veltrix plan
// read it; the pipeline itself ignores it.
type DeployConfig struct {
	// Instances is the planned processor instance count.
	Instances int `koanf:"instances"`
	// MaxInstances is the autoscaler's maximum; 0 means no autoscaler.
	MaxInstances int `koanf:"max_instances"`
	// ExpectedRate is the peak rate into the topic in events/s; 0 is unknown.
	ExpectedRate float64 `koanf:"expected_rate"`
	// RecordSize is a typical record's key and value bytes.
	RecordSize int64 `koanf:"record_size"`
	// P99Target is the end-to-end p99 latency target; 0 is none.
	P99Target time.Duration `koanf:"p99_target"`
	// MemoryLimit is one instance's memory limit; 0 reads the cgroup.
	MemoryLimit int64 `koanf:"memory_limit"`
	// GCPercent is the Go collector's GOGC for veltrix process.
	GCPercent int `koanf:"gc_percent"`
	// OutageTolerance is how long a stopped group must survive retention.
	OutageTolerance time.Duration `koanf:"outage_tolerance"`
}

// MaxScale is the most instances the group can reach: the autoscaler's
// maximum when there is one, else the planned count.
func (d DeployConfig) MaxScale() int {
	return max(d.Instances, d.MaxInstances)
}
