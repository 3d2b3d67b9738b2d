package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/tooltest"
)

// tiny is a scale that exercises every measurement in well under a minute.
func tiny() Scale {
	return Scale{
		Name: "test",
		// Several fetches' worth (a fetch carries up to 6 MiB here), so the
		// drains can be timed.
		Records:          map[int]int{100: 200_000, 1024: 20_000},
		EmbeddedRecords:  200_000,
		ProduceRecords:   map[int]int{100: 20_000, 1024: 5_000},
		LatencyRates:     []float64{10_000},
		LatencyDuration:  2 * time.Second,
		LatencyWarmup:    500 * time.Millisecond,
		SustainDuration:  2 * time.Second,
		SustainProbes:    1,
		OverloadDuration: 2 * time.Second,
		HotPathCount:     1,
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
	bin := filepath.Join(t.TempDir(), "veltrix")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "veltrix")).CombinedOutput(); err != nil {
		t.Fatalf("building veltrix: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
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
	for _, want := range []string{"Hand-written method.", "Hand-written analysis.", "### Consume", "÷ franz-go loop", "### Targets", "median of **1** runs"} {
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
