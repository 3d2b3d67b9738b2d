package bench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/tooltest"
)

// tiny is a scale that exercises every measurement in well under a minute.
func tiny() Scale {
	return Scale{
		Name: "test",
		// Several fetches' worth (a fetch carries up to 6 MiB here), so the
		// drains can be timed.
		Records:         map[int]int{100: 200_000, 1024: 20_000},
		EmbeddedRecords: 200_000,
		// Enough that even the producer binaries take several observations.
		ProduceRecords:   map[int]int{100: 400_000, 1024: 40_000},
		LatencyRates:     []float64{10_000},
		LatencyDuration:  2 * time.Second,
		LatencyWarmup:    500 * time.Millisecond,
		SustainDuration:  2 * time.Second,
		SustainProbes:    1,
		OverloadDuration: 2 * time.Second,
		HotPathCount:     1,
		// A compressible backlog needs more records than a random one:
		// a fetch's byte limits count compressed bytes, and the timed
		// window needs more than one fetch.
		Drain:          []Backlog{{Size: 100, Records: 300_000}, {Size: 100, Records: 600_000, Compressible: true}},
		SteadyRates:    []float64{5000},
		SteadyDuration: 2 * time.Second,
		SteadyWarmup:   500 * time.Millisecond,
	}
}

// TestHarnessSmoke runs the whole harness at a tiny scale against the real
// broker (and the embedded cluster), so it cannot rot: every subject must
// produce a measurement and the report must render. The hot-path
// benchmarks are skipped here (TestParseBench covers their parsing); the
// numbers are not checked, only that they exist.
func TestHarnessSmoke(t *testing.T) {
	brokers := kafkatest.Real(t)
	root := tooltest.Root(t)
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	// Six minutes: about two on a quiet machine, and a bound, not a
	// measurement (it ran past three at load 20).
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Scale: tiny(), Runs: 1, Brokers: brokers, Embedded: true, Root: root, Veltrix: bin,
		Skip: []string{"hotpaths"}, Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("parts failed:\n%s", strings.Join(res.Errors, "\n"))
	}
	for _, want := range []struct {
		cluster string
		size    int
		subject string
	}{
		{"kafka", 100, PlainFranz}, {"kafka", 100, KafkaConsumer}, {"kafka", 100, VeltrixBatch},
		{"kafka", 100, VeltrixInterval}, {"kafka", 1024, VeltrixManual}, {"embedded", 100, VeltrixInterval},
	} {
		if find(res.Consume, want.cluster, want.size, want.subject) <= 0 {
			t.Errorf("no consume measurement for %+v", want)
		}
	}
	for _, s := range []string{PlainFranz, KafkaProducer, VeltrixProduce} {
		if find(res.Produce, "kafka", 1024, s) <= 0 {
			t.Errorf("no produce measurement for %s", s)
		}
	}
	// veltrix and the franz-go loop on Kafka, veltrix on the embedded cluster.
	if len(res.Latency) != 3*len(tiny().LatencyRates) {
		t.Errorf("%d latency rows, want %d", len(res.Latency), 3*len(tiny().LatencyRates))
	}
	for _, l := range res.Latency {
		if l.P50Ms <= 0 || l.P99Ms < l.P50Ms || l.P999Ms < l.P99Ms || l.Count == 0 {
			t.Errorf("implausible latency row %+v", l)
		}
	}
	if len(res.Sustained) != 1 || len(res.Sustained[0].Probes) != 1 {
		t.Errorf("sustained search: %+v", res.Sustained)
	}
	if len(res.Memory) != 5 {
		t.Errorf("%d memory rows, want drain ×2 and overload ×3: %+v", len(res.Memory), res.Memory)
	}
	for _, m := range res.Memory {
		if m.PeakMiB <= 0 {
			t.Errorf("no peak RSS for %s", m.Scenario)
		}
	}
	// Every consumer binary drained every backlog on both clusters, and
	// the plain loop, which never pauses, fetched each record once: the
	// fetched-bytes accounting agrees with the backlog's size.
	for _, c := range []string{"kafka", "embedded"} {
		for _, b := range tiny().Drain {
			for _, s := range []string{PlainConsumeBinary, VeltrixDefault, VeltrixHighThroughput, VeltrixLowLatency} {
				d := findOutside(res.Drain, c, b.Size, b.Payload(), s)
				if d == nil {
					t.Errorf("no drain measurement for %s %s %s", c, b, s)
					continue
				}
				m := d.Median
				if m.Rate <= 0 || m.CPUPerM < 0 || m.ProcessCPUPerM <= 0 || m.PeakMiB <= 0 || m.FetchAmp <= 0 || m.StartSeconds <= 0 {
					t.Errorf("implausible drain row %s %s %s: %+v", c, b, s, m)
				}
				if s == PlainConsumeBinary && (m.FetchAmp < 0.95 || m.FetchAmp > 1.05) {
					t.Errorf("the plain loop fetched %.2f × the %s backlog on %s, want 1", m.FetchAmp, b, c)
				}
			}
		}
		// Both consumer binaries were fed at the steady rate and handled
		// records in the window at a CPU cost that was measured.
		for _, s := range []string{PlainConsumeBinary, VeltrixDefault} {
			d := findSteady(res.Steady, c, 5000, s)
			if d == nil || d.Median.Rate <= 0 || d.Median.CPUPerM <= 0 || d.Median.Measured <= 0 || d.Median.ProcessCPUPerM <= 0 {
				t.Errorf("no steady-rate measurement of %s on %s: %+v", s, c, d)
			}
		}
		for _, s := range []string{PlainProduceBinary, VeltrixProduceBinary} {
			if p := findOutside(res.ProduceBinary, c, 100, "random", s); p == nil || p.Median.Rate <= 0 || p.Median.ProcessCPUPerM <= 0 {
				t.Errorf("no produce measurement of the %s binary on %s: %+v", s, c, p)
			}
		}
	}

	// The report keeps hand-written text around the generated tables.
	report := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	hand := "# Benchmarks\n\nHand-written method.\n\n" + beginMarker + "\nold tables\n" + endMarker + "\n\nHand-written analysis.\n"
	if err := os.WriteFile(report, []byte(hand), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateReport(report, res); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(report)
	doc := string(b)
	for _, want := range []string{"Hand-written method.", "Hand-written analysis.", "### Consume", "÷ franz-go loop", "### Targets", "median of **1** runs",
		"### Drain a backlog", "### Produce: binaries", "`veltrix process, default` draining", "`veltrix produce` binary",
		"### Steady rate", "`veltrix process, default` at a steady 5k events/s"} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(doc, "old tables") {
		t.Error("report kept the old generated section")
	}
	if _, err := Write(t.TempDir(), res); err != nil {
		t.Fatal(err)
	}
}

func TestParseKafkaTools(t *testing.T) {
	for _, tc := range []struct {
		name    string
		out     string
		n       int
		want    float64
		wantErr bool
	}{
		{"consumer", "2026-11-25 18:30:54:166, 2026-11-25 18:30:54:783, 19.0735, 30.9133, 200000, 324149.1086, 262, 355, 53.7281, 563380.2817\n", 200000, 563380.2817, false},
		{"consumer short", "2026-11-25 18:30:54:166, 2026-11-25 18:30:54:783, 19.0735, 30.9133, 1000, 324149.1086, 262, 355, 53.7281, 563380.2817\n", 200000, 0, true},
		{"consumer garbage", "WARN something\n", 10, 0, true},
		{"producer", "100000 records sent, 50000.0 records/sec (4.77 MB/sec), 5.0 ms avg latency, 80.00 ms max latency.\n" +
			"200000 records sent, 139082.058414 records/sec (13.26 MB/sec), 48.21 ms avg latency, 269.00 ms max latency, 11 ms 50th, 198 ms 95th, 254 ms 99th, 259 ms 99.9th.\n", 200000, 139082.058414, false},
		{"producer no summary", "100000 records sent, 50000.0 records/sec (4.77 MB/sec), 5.0 ms avg latency, 80.00 ms max latency.\n", 200000, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got float64
			var err error
			if strings.HasPrefix(tc.name, "consumer") {
				got, err = parseConsumerPerformance(tc.out, tc.n)
			} else {
				got, err = parseProducerPerformance(tc.out, tc.n)
			}
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
BenchmarkLaneTake/metrics-2     26712   40917 ns/op   40961 B/op   10 allocs/op
BenchmarkLaneTake/metrics-2     26712   40000 ns/op   40961 B/op   10 allocs/op
BenchmarkLaneTake/metrics-2     26712   50000 ns/op   40961 B/op   10 allocs/op
BenchmarkMetricsDone-2          14944   16634 ns/op       0 B/op    0 allocs/op
PASS`
	got := parseBench(out)
	if len(got) != 2 || got[0].Name != "BenchmarkLaneTake/metrics" || got[0].NsOp != 40917 || got[0].AllocsOp != 10 || got[1].NsOp != 16634 {
		t.Fatalf("parseBench = %+v", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSumSeries(t *testing.T) {
	text := `# HELP kafka_client_fetch_bytes_total Total number of uncompressed bytes fetched
# TYPE kafka_client_fetch_bytes_total counter
kafka_client_fetch_bytes_total{client_id="a",node_id="1",topic="t"} 100
kafka_client_fetch_bytes_total{client_id="b",node_id="1",topic="t"} 1.5e+06
kafka_client_fetch_bytes_total{client_id="b",node_id="1",topic="other"} 7
kafka_client_fetch_bytes_total_extra{topic="t"} 9
veltrix_processed_records_total{topic="t"} 3e+06
veltrix_ready 1
`
	got, err := sumSeries(strings.NewReader(text), "t", "kafka_client_fetch_bytes_total", "veltrix_processed_records_total", "veltrix_ready", "missing")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"kafka_client_fetch_bytes_total": 1_500_100, "veltrix_processed_records_total": 3e6, "veltrix_ready": 1, "missing": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestParseBacklogs(t *testing.T) {
	got, err := ParseBacklogs("100x3000000, 100x3000000c,1024x500000")
	want := []Backlog{{Size: 100, Records: 3_000_000}, {Size: 100, Records: 3_000_000, Compressible: true}, {Size: 1024, Records: 500_000}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ParseBacklogs = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "100", "x5", "100x", "0x5", "100x5q"} {
		if _, err := ParseBacklogs(bad); err == nil {
			t.Errorf("ParseBacklogs(%q) succeeded", bad)
		}
	}
}

func TestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	first := sample{at: t0, records: 100_000, fetched: 11e6, cpu: time.Second, brokerCPU: 2 * time.Second}
	last := sample{at: t0.Add(time.Second), records: 1_000_000, fetched: 220e6, cpu: 1900 * time.Millisecond, brokerCPU: 2450 * time.Millisecond}
	r, err := window(first, last, 1_000_000, 110e6)
	if err != nil {
		t.Fatal(err)
	}
	// 900k records in 1 s with 0.9 CPU-s: 1 CPU-s per million; the whole
	// backlog (110 MB) fetched twice.
	if r.Rate != 900_000 || r.CPUPerM != 1 || r.BrokerCPUPerM != 0.5 || r.FetchAmp != 2 || r.Measured != 900_000 {
		t.Fatalf("window = %+v", r)
	}
	if _, err := window(last, last, 1_000_000, 0); err == nil {
		t.Fatal("an empty window was timed")
	}
}

// TestBaselineSubjects: a baseline binary adds its own veltrix subjects,
// run with it, next to the measured binary's; with a profile path every
// subject but the baseline's is asked for a CPU profile.
func TestBaselineSubjects(t *testing.T) {
	o := &Options{Veltrix: "/new/veltrix", Baseline: "/old/veltrix", PlainConsume: "/plain", PlainProduce: "/plainp", Root: "/repo"}
	bins := map[string]string{}
	profiled := func(name, bin string, args []string) {
		asked := slices.Contains(args, "--cpu-profile") || slices.Contains(args, "--cpuprofile")
		if want := bin != o.Baseline; asked != want {
			t.Errorf("subject %q asked for a profile: %v, want %v (%q)", name, asked, want, args)
		}
	}
	for _, s := range drainSubjects(o) {
		var args []string
		bins[s.name], args = s.command(cluster{brokers: []string{"b:9092"}}, "t", "g", "/p/x.pprof")
		profiled(s.name, bins[s.name], args)
	}
	order, cmds := produceCommands(o)
	for _, s := range order {
		var args []string
		bins[s], args = cmds[s](cluster{brokers: []string{"b:9092"}}, "t", 10, 100, "/p/x.pprof")
		profiled(s, bins[s], args)
	}
	want := map[string]string{
		PlainConsumeBinary: "/plain", VeltrixDefault: "/new/veltrix", VeltrixLowLatency + baselineSuffix: "/old/veltrix",
		VeltrixHighThroughput + baselineSuffix: "/old/veltrix", VeltrixProduceBinary: "/new/veltrix",
		VeltrixProduceBinary + baselineSuffix: "/old/veltrix",
	}
	for name, bin := range want {
		if bins[name] != bin {
			t.Errorf("subject %q runs %q, want %q", name, bins[name], bin)
		}
	}
	if len(bins) != 1+6+4 {
		t.Errorf("%d subjects, want 11: %v", len(bins), bins)
	}
}
