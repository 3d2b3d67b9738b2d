package bench

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Results is one benchmark run, as written to bench/results/*.json.
type Results struct {
	Started  time.Time         `json:"started"`
	Seconds  float64           `json:"seconds"`
	Scale    Scale             `json:"scale"`
	Runs     int               `json:"runs"`
	Machine  Machine           `json:"machine"`
	Versions Versions          `json:"versions"`
	Settings map[string]string `json:"settings"`

	// Consume and Produce are throughputs in records/s.
	Consume []Measure `json:"consume"`
	Produce []Measure `json:"produce"`
	// Latency is end-to-end latency at fixed rates.
	Latency []Latency `json:"latency"`
	// Sustained is the highest rate held without growing lag.
	Sustained []Sustained `json:"sustained"`
	Memory    []Memory    `json:"memory"`
	HotPaths  []HotPath   `json:"hot_paths"`
	// Backlogs are the topics the drain measurement emptied; Drain and
	// ProduceBinary are the binaries measured from outside their processes.
	Backlogs []BacklogInfo `json:"backlogs,omitempty"`
	Drain    []Outside     `json:"drain,omitempty"`
	// Steady are the consumer binaries fed at steady rates.
	Steady        []Outside `json:"steady,omitempty"`
	ProduceBinary []Outside `json:"produce_binary,omitempty"`
	// Ordering is partition against key ordering (issue 15).
	Ordering []Ordering `json:"ordering,omitempty"`
	// HotPathRaw is go test's output, benchstat's input.
	HotPathRaw string `json:"-"`
	// Errors are parts that failed; their rows are missing.
	Errors []string `json:"errors,omitempty"`
}

// JSON returns res indented.
func (r *Results) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Subjects of throughput measurements.
const (
	PlainFranz      = "franz-go loop"
	KafkaConsumer   = "ConsumerPerformance"
	KafkaProducer   = "ProducerPerformance"
	VeltrixBatch    = "veltrix batch"
	VeltrixInterval = "veltrix interval"
	VeltrixManual   = "veltrix manual"
	// VeltrixNoMetrics is interval mode with metrics off: the engine
	// without its instrumentation, not a product configuration.
	VeltrixNoMetrics = "veltrix interval, metrics off"
	VeltrixProduce   = "veltrix produce"
)

// Measure is one subject's throughput over Runs repetitions.
type Measure struct {
	Cluster string    `json:"cluster"` // kafka or embedded
	Size    int       `json:"record_bytes"`
	Subject string    `json:"subject"`
	Runs    []float64 `json:"runs"` // records/s of each run
	Median  float64   `json:"median"`
}

// Latency is end-to-end latency, producer timestamp to handler, at a fixed
// rate: medians over runs of each run's quantiles.
type Latency struct {
	Cluster  string  `json:"cluster"`
	Subject  string  `json:"subject"` // veltrix or the franz-go loop
	Rate     float64 `json:"rate"`
	Achieved float64 `json:"achieved"` // events/s acknowledged
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	P999Ms   float64 `json:"p999_ms"`
	MaxMs    float64 `json:"max_ms"`
	// AckP99Ms is the p99 from record timestamp to the producer's
	// acknowledgement: the part of the latency spent producing.
	AckP99Ms float64   `json:"produce_ack_p99_ms"`
	Count    int64     `json:"measured"` // events measured (after warm-up), last run
	RunsP99  []float64 `json:"runs_p99_ms"`
}

// Probe is one step of the sustained-rate search.
type Probe struct {
	Rate     float64 `json:"rate"`
	Achieved float64 `json:"achieved"`
	MaxLag   int64   `json:"max_lag_second_half"`
	EndLag   int64   `json:"end_lag"`
	P99Ms    float64 `json:"p99_ms"`
	OK       bool    `json:"ok"`
}

// Sustained is the highest rate that passed a probe.
type Sustained struct {
	Cluster string  `json:"cluster"`
	Rate    float64 `json:"rate"`
	Seconds float64 `json:"probe_seconds"`
	Probes  []Probe `json:"probes"`
}

// Memory is the peak resident set of a `veltrix process` binary.
type Memory struct {
	Scenario string    `json:"scenario"` // drain or overload
	Size     int       `json:"record_bytes"`
	PeakMiB  float64   `json:"peak_rss_mib"` // median VmHWM
	IdleMiB  float64   `json:"idle_rss_mib"` // VmHWM once joined, before records (overload)
	Runs     []float64 `json:"runs_mib"`
	// BudgetMiB is processor.buffer.max_bytes; AllowanceMiB the bound the
	// peak is held to (see BENCHMARKS.md), 0 where none applies.
	BudgetMiB    float64 `json:"budget_mib"`
	AllowanceMiB float64 `json:"allowance_mib"`
	// Growth is the heap's growth factor in the allowance, 1 + GOGC/100;
	// 0 in results from before deploy.gc_percent, which ran at GOGC=100.
	Growth  float64 `json:"heap_growth,omitempty"`
	Seconds float64 `json:"seconds"`
	Notes   string  `json:"notes"`
}

// HotPath is one Go benchmark: medians over -count runs.
type HotPath struct {
	Name     string  `json:"name"`
	NsOp     float64 `json:"ns_per_op"`
	BytesOp  float64 `json:"bytes_per_op"`
	AllocsOp float64 `json:"allocs_per_op"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// findOutside returns the row of a subject measured from outside, nil if
// none.
func findOutside(rows []Outside, cluster string, size int, payload, subject string) *Outside {
	for i, r := range rows {
		if r.Cluster == cluster && r.Size == size && r.Payload == payload && r.Subject == subject {
			return &rows[i]
		}
	}
	return nil
}

// find returns the median of a subject's throughput, 0 if not measured.
func find(ms []Measure, cluster string, size int, subject string) float64 {
	for _, m := range ms {
		if m.Cluster == cluster && m.Size == size && m.Subject == subject {
			return m.Median
		}
	}
	return 0
}
