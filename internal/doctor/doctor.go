// Package doctor checks a configuration against what it will meet in
// production: the topic on the live cluster, the planned instances and the
// autoscaler's maximum, the group's timeouts, the container's memory limit,
// the expected rate, the latency target and the topic's durability and
// retention. Each check is a small function from an Input to findings; each
// finding has a severity, the why in one sentence and the exact change that
// fixes it.
package doctor

import (
	"sort"
	"time"

	"github.com/veltrix/veltrix/internal/config"
)

// Severity ranks a finding.
type Severity string

// The severities, most serious first.
const (
	Error Severity = "error" // the configuration will fail or lose data: fix before deploying
	Warn  Severity = "warn"  // it works, but degrades under growth or failure
	Info  Severity = "info"  // a number worth knowing, or a check that could not run
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warn:
		return 1
	}
	return 2
}

// Finding is one thing doctor has to say about a configuration.
type Finding struct {
	Check    string   `json:"check"`         // the check that found it, e.g. "partitions"
	Severity Severity `json:"severity"`      // error, warn or info
	Why      string   `json:"why"`           // one sentence: what goes wrong and when
	Fix      string   `json:"fix,omitempty"` // the change that fixes it, as key=value ("" for info)
}

// Input is what a check looks at.
type Input struct {
	Config config.Config
	// Cluster is the live cluster's view of the topics, or nil when doctor
	// runs without brokers; cluster checks then say they were skipped.
	Cluster *Cluster
	// Memory is one instance's memory limit.
	Memory Memory
	// Certificates are those the connection depends on (ReadCertificates,
	// and BrokerCertificates when live), for their expiry.
	Certificates []Certificate
	// Now is when expiry is judged; zero means the current time.
	Now time.Time
	// Manifests are the Kubernetes manifests to check (ReadManifests), nil
	// when none were given.
	Manifests *Manifests
}

// Check is one check: it reads the input and returns its findings, none
// when all is well.
type Check func(Input) []Finding

// Checks are every check doctor runs, in report order within a severity.
var Checks = []Check{
	TopicExists,
	Partitions,
	Timeouts,
	BatchDuration,
	BufferMemory,
	FetchMemory,
	CommitDuplicates,
	Durability,
	Latency,
	Retention,
	Security,
	CertificateExpiry,
	ManifestLimits,
}

// Run runs every check and returns the findings, errors first.
func Run(in Input) []Finding {
	var out []Finding
	for _, c := range Checks {
		out = append(out, c(in)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity.rank() < out[j].Severity.rank() })
	return out
}

// HasErrors reports whether any finding has severity Error.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == Error {
			return true
		}
	}
	return false
}
