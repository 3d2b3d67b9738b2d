package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/tooltest"
)

// TestOrderingSubjects: a waiting subject handles about Window of records
// at its ideal rate, rounded up to whole batch steps and capped by the
// backlog; a noop subject drains the backlog.
func TestOrderingSubjects(t *testing.T) {
	sc := OrderingScale{Records: 100_000, Keys: 10_000, Delay: 5 * time.Millisecond, Concurrency: []int{8, 128},
		TightWindow: 500, Window: 2 * time.Second, NoopConcurrency: []int{32}}
	got := map[string]int{}
	for _, s := range orderingSubjects(sc) {
		got[s.handler+" "+s.name()] = s.records
	}
	want := map[string]int{
		"simulate partition":                               3000,    // 2,400 ideal, one step of 6 × 500
		"simulate key, concurrency 8":                      21_000,  // 19,200
		"simulate key, concurrency 128":                    100_000, // 307,200, capped
		"simulate key, concurrency 128, max_in_flight 500": 100_000,
		"noop partition":                                   100_000,
		"noop key, concurrency 32":                         100_000,
	}
	if len(got) != len(want) {
		t.Errorf("subjects %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s handles %d records, want %d", k, got[k], v)
		}
	}
}

// TestOrderingReport: an ordering-only run rewrites only its own section,
// appended the first time, and states the target.
func TestOrderingReport(t *testing.T) {
	res := &Results{Started: time.Now(), Runs: 3, Scale: Scale{Ordering: OrderingScale{Records: 1000, Keys: 10, Delay: 5 * time.Millisecond}}}
	res.Ordering = []Ordering{
		{Cluster: "kafka", Handler: "simulate", Subject: "partition", Ordering: "partition", Concurrency: 1, Records: 3000, Median: OutsideRun{Rate: 1200}},
		{Cluster: "kafka", Handler: "simulate", Subject: "key, concurrency 32", Ordering: "key", Concurrency: 32, MaxInFlight: 5000, Records: 3000, Median: OutsideRun{Rate: 30_000, PeakMiB: 40}},
		{Cluster: "kafka", Handler: "noop", Subject: "partition", Ordering: "partition", Concurrency: 1, Median: OutsideRun{Rate: 1e6, CPUPerM: 0.5}},
		{Cluster: "kafka", Handler: "noop", Subject: "key, concurrency 32", Ordering: "key", Concurrency: 32, MaxInFlight: 5000, Median: OutsideRun{Rate: 5e5, CPUPerM: 1.5}},
	}
	report := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	hand := "# Benchmarks\n\n" + beginMarker + "\nold tables\n" + endMarker + "\n\nHand-written analysis.\n"
	if err := os.WriteFile(report, []byte(hand), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time replaces the section the first appended
		if err := UpdateReport(report, res); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(report)
	doc := string(b)
	for _, want := range []string{"old tables", "Hand-written analysis.", "| kafka | key, concurrency 32 | 3000 | 30000 | 25.00 | 38400 | 78% |",
		"| kafka | key, concurrency 32 | 500k | 1.50 | 3.00 |", "25.0 × partition ordering's records/s (target ≥ 20: met)"} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q:\n%s", want, doc)
		}
	}
	if n := strings.Count(doc, orderingBegin); n != 1 {
		t.Errorf("%d ordering sections", n)
	}
}

// TestOrderingSmoke runs the ordering measurement at a tiny scale on the
// real broker, so that it cannot rot: every subject measured, key ordering
// faster than partition ordering with the waiting handler.
func TestOrderingSmoke(t *testing.T) {
	brokers := kafkatest.Real(t)
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// 200,000 records: the noop drains must outlast the first observation
	// after the join. 30,000 did while each event carried its identity
	// headers (4.4 MB); without them they fit in the first fetches.
	sc := Scale{Name: "test", Ordering: OrderingScale{Records: 200_000, Keys: 10_000, Delay: 5 * time.Millisecond,
		Concurrency: []int{8}, Window: time.Second, NoopConcurrency: []int{8}}}
	res, err := Run(ctx, Options{Scale: sc, Runs: 1, Brokers: brokers, Root: tooltest.Root(t), Veltrix: bin,
		Skip: OrderingOnlySkip(), Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("parts failed:\n%s", strings.Join(res.Errors, "\n"))
	}
	if len(res.Ordering) != 4 {
		t.Fatalf("%d ordering rows, want 4: %+v", len(res.Ordering), res.Ordering)
	}
	for _, r := range res.Ordering {
		if r.Median.Rate <= 0 || r.Median.PeakMiB <= 0 || r.Median.ProcessCPUPerM <= 0 || r.Median.FetchAmp <= 0 {
			t.Errorf("implausible row %+v", r)
		}
	}
	p, k := findOrdering(res.Ordering, "kafka", "simulate", "partition"), findOrdering(res.Ordering, "kafka", "simulate", "key, concurrency 8")
	if p == nil || k == nil || k.Median.Rate <= p.Median.Rate {
		t.Errorf("key ordering at concurrency 8 not faster than partition ordering: %+v, %+v", k, p)
	}
	if !res.orderingOnly() {
		t.Error("an ordering-only run counts as a main run")
	}
}
