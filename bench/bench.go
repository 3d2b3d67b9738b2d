// Package bench measures veltrix side by side with what a sceptical user
// would use instead — a plain franz-go loop and Kafka's own performance
// tools — in one run on one machine, and reports medians and ratios:
// consume and produce throughput, end-to-end latency at fixed rates, the
// highest sustained rate, peak memory, and the engine's hot paths.
//
// scripts/bench.sh runs it at full scale (cmd/vbench) and regenerates
// BENCHMARKS.md; the package test runs it at a tiny scale so it cannot rot.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Scale sizes a run.
type Scale struct {
	Name string `json:"name"`
	// Records is how many records each pre-filled topic holds, by record
	// size in bytes (100 and 1024).
	Records map[int]int `json:"records"`
	// EmbeddedRecords is the pre-fill on the embedded cluster (100-byte
	// records only): it keeps every record in the harness's memory.
	EmbeddedRecords int `json:"embedded_records"`
	// ProduceRecords is how many records each produce run writes, by size.
	ProduceRecords map[int]int `json:"produce_records"`
	// LatencyRates are the fixed rates of the latency runs, in events/s.
	LatencyRates []float64 `json:"latency_rates"`
	// LatencyDuration is each latency run's length; the first
	// LatencyWarmup of it is not measured.
	LatencyDuration time.Duration `json:"latency_duration"`
	LatencyWarmup   time.Duration `json:"latency_warmup"`
	// SustainDuration is each probe of the sustained-rate search;
	// SustainProbes bounds how many probes it makes.
	SustainDuration time.Duration `json:"sustain_duration"`
	SustainProbes   int           `json:"sustain_probes"`
	// OverloadDuration is how long the 10x overload lasts.
	OverloadDuration time.Duration `json:"overload_duration"`
	// HotPathCount is go test -count for the hot-path benchmarks.
	HotPathCount int `json:"hot_path_count"`
	// Drain are the backlogs each consumer binary empties, on each
	// cluster.
	Drain []Backlog `json:"drain"`
	// SteadyRates are the rates the consumer binaries are fed in the
	// steady-rate runs, events/s; each run measures SteadyDuration after
	// SteadyWarmup.
	SteadyRates    []float64     `json:"steady_rates,omitempty"`
	SteadyDuration time.Duration `json:"steady_duration,omitempty"`
	SteadyWarmup   time.Duration `json:"steady_warmup,omitempty"`
	// Ordering sizes the ordering measurement; the zero value skips it.
	Ordering OrderingScale `json:"ordering"`
}

// Full is the scale of scripts/bench.sh: about 30 minutes on 2 cores.
func Full() Scale {
	return Scale{
		Name:             "full",
		Records:          map[int]int{100: 5_000_000, 1024: 1_000_000},
		EmbeddedRecords:  1_000_000,
		ProduceRecords:   map[int]int{100: 2_000_000, 1024: 500_000},
		LatencyRates:     []float64{1000, 10_000, 50_000, 100_000},
		LatencyDuration:  10 * time.Second,
		LatencyWarmup:    2 * time.Second,
		SustainDuration:  60 * time.Second,
		SustainProbes:    5,
		OverloadDuration: 15 * time.Second,
		HotPathCount:     6,
		Drain: []Backlog{{Size: 100, Records: 3_000_000}, {Size: 100, Records: 3_000_000, Compressible: true},
			{Size: 1024, Records: 500_000}, {Size: 1024, Records: 500_000, Compressible: true}},
		SteadyRates:    []float64{10_000, 100_000},
		SteadyDuration: 10 * time.Second,
		SteadyWarmup:   3 * time.Second,
		Ordering:       fullOrdering(),
	}
}

// Quick is the smoke scale of scripts/bench.sh --quick: every measurement
// but ordering (its waiting handler needs seconds per subject), small, in
// about five minutes.
func Quick() Scale {
	return Scale{
		Name:             "quick",
		Records:          map[int]int{100: 300_000, 1024: 50_000},
		EmbeddedRecords:  200_000,
		ProduceRecords:   map[int]int{100: 200_000, 1024: 50_000},
		LatencyRates:     []float64{1000, 10_000, 50_000, 100_000},
		LatencyDuration:  4 * time.Second,
		LatencyWarmup:    time.Second,
		SustainDuration:  5 * time.Second,
		SustainProbes:    2,
		OverloadDuration: 6 * time.Second,
		HotPathCount:     3,
		// Compressible backlogs need more records than random ones: a
		// fetch's byte limits count compressed bytes, and the timed window
		// needs more than a fetch or two.
		Drain: []Backlog{{Size: 100, Records: 300_000}, {Size: 100, Records: 600_000, Compressible: true},
			{Size: 1024, Records: 50_000}, {Size: 1024, Records: 100_000, Compressible: true}},
		SteadyRates:    []float64{10_000},
		SteadyDuration: 3 * time.Second,
		SteadyWarmup:   time.Second,
	}
}

// Options say where and how a run happens.
type Options struct {
	Scale Scale
	// Runs is how many times each measurement is repeated; the median is
	// reported. At least 1; scripts/bench.sh uses 3.
	Runs int
	// Brokers is the real Apache Kafka broker.
	Brokers []string
	// Embedded also measures consume and latency on the embedded cluster.
	Embedded bool
	// Root is the repository root: scripts/kafka.sh runs Kafka's tools and
	// go test runs the hot-path benchmarks from there.
	Root string
	// Veltrix is the veltrix binary the memory, drain and produce-binary
	// runs start (and `veltrix broker`, the embedded cluster in its own
	// process).
	Veltrix string
	// Baseline is another veltrix binary (an earlier build) whose process
	// and produce subjects the drain and produce-binary runs interleave
	// with Veltrix's, named with a " (baseline)" suffix: a before/after
	// comparison in one run, under the same load. Empty: none.
	Baseline string
	// PlainConsume and PlainProduce are the plain franz-go binaries
	// (bench/cmd/plainconsume, plainproduce); built from Root when empty.
	PlainConsume, PlainProduce string
	// Profiles, when set, is a directory where every run of the drain, steady-rate
	// and produce-binary measurements writes a CPU profile of its subject
	// process (veltrix's --cpu-profile, the plain binaries' --cpuprofile),
	// named after cluster, workload, subject and run. Baseline subjects are
	// not profiled: an earlier build may not have the flag.
	Profiles string
	// Skip names parts not to run: calibration, consume, produce, latency,
	// sustain, memory, drain, steady, produce-binary, hotpaths, ordering.
	Skip []string
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func (o *Options) skip(part string) bool { return slices.Contains(o.Skip, part) }

// Run measures everything Options asks for and returns the results. A part
// that fails is recorded in Results.Errors and the run goes on, so one broken
// tool does not lose twenty minutes of measurements.
func Run(ctx context.Context, o Options) (*Results, error) {
	if o.Runs < 1 {
		o.Runs = 1
	}
	if len(o.Brokers) == 0 {
		return nil, fmt.Errorf("no brokers: the benchmarks run against a real Kafka broker")
	}
	res := &Results{Started: time.Now().UTC(), Scale: o.Scale, Runs: o.Runs}
	res.Machine = machine()
	res.Versions = versions(o.Root)
	res.Settings = settings(o)
	start := time.Now()

	fail := func(part string, err error) {
		if err != nil {
			o.logf("%s: %v", part, err)
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", part, err))
		}
	}
	real := cluster{name: "kafka", brokers: o.Brokers, real: true}
	topics := map[int]string{}
	defer func() {
		// Pre-filled topics are large: remove them whatever happened.
		var names []string
		for _, t := range topics {
			names = append(names, t)
		}
		deleteTopics(real.brokers, names...)
	}()
	needFill := !o.skip("consume") || !o.skip("calibration") || !o.skip("memory")
	if needFill {
		for _, size := range sortedKeys(o.Scale.Records) {
			t := uniqueName(fmt.Sprintf("bench-fill-%d", size))
			n := o.Scale.Records[size]
			o.logf("pre-filling %s with %d × %d-byte records", t, n, size)
			if err := prefill(ctx, real.brokers, t, n, size); err != nil {
				return nil, fmt.Errorf("pre-filling %s: %w", t, err)
			}
			topics[size] = t
		}
	}
	if !o.skip("calibration") || !o.skip("consume") {
		fail("consume", consumeAll(ctx, &o, res, real, topics))
	}
	if o.Embedded && !o.skip("consume") {
		fail("consume (embedded)", consumeEmbedded(ctx, &o, res))
	}
	if !o.skip("produce") {
		fail("produce", produceAll(ctx, &o, res, real))
	}
	if !o.skip("latency") {
		fail("latency", latencyAll(ctx, &o, res, real))
		if o.Embedded {
			fail("latency (embedded)", latencyEmbedded(ctx, &o, res))
		}
	}
	if !o.skip("sustain") {
		fail("sustain", sustainSearch(ctx, &o, res, real))
	}
	if !o.skip("memory") {
		fail("memory", memoryAll(ctx, &o, res, real, topics))
	}
	if !o.skip("drain") || !o.skip("steady") || !o.skip("produce-binary") {
		fail("binaries", outsideAll(ctx, &o, res, real))
	}
	if !o.skip("hotpaths") {
		fail("hot paths", hotPaths(ctx, &o, res))
	}
	if !o.skip("ordering") && o.Scale.Ordering.Records > 0 {
		fail("ordering", orderingAll(ctx, &o, res, real))
	}
	res.Machine.LoadAfter = loadavg()
	res.Seconds = time.Since(start).Seconds()
	return res, ctx.Err()
}

// Write saves res as dir/<timestamp>.json and dir/latest.json (a run of
// the ordering measurement alone as dir/<timestamp>-ordering.json only),
// and writes the raw hot-path output next to them for benchstat.
func Write(dir string, res *Results) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	stamp := res.Started.Format("20060102T150405Z")
	b, err := res.JSON()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, stamp+".json")
	paths := []string{path, filepath.Join(dir, "latest.json")}
	if res.orderingOnly() {
		// latest.json stays the last run of the main measurements.
		path = filepath.Join(dir, stamp+"-ordering.json")
		paths = []string{path}
	}
	for _, p := range paths {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", fmt.Errorf("writing %s: %w", p, err)
		}
	}
	if res.HotPathRaw != "" {
		if err := os.WriteFile(filepath.Join(dir, stamp+"-hotpaths.txt"), []byte(res.HotPathRaw), 0o644); err != nil {
			return "", err
		}
	}
	return path, nil
}

// Read loads results written by Write.
func Read(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &res, nil
}
