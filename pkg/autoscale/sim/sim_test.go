package sim

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/pkg/autoscale"
)

var update = flag.Bool("update", false, "rewrite docs/autoscale-ramp.png and the simulation table in docs/deployment.md")

const (
	docsDir    = "../../../docs"
	plotFile   = "autoscale-ramp.png"
	tableBegin = "<!-- autoscale-sim:begin (go test ./pkg/autoscale/sim -update) -->"
	tableEnd   = "<!-- autoscale-sim:end -->"
)

// kedaThreshold is the lagThreshold the KEDA formula runs with: a little
// under half a second of one member's work, so that the steady state's
// in-flight records ask for one member. Lower values ask for more members
// at every steady state (KEDA's default of 10 asks for all of them).
const kedaThreshold = 1000

// runSeed runs the seed's ramp with veltrix's policy and KEDA's formula.
func runSeed(t *testing.T) (Config, Result, Result) {
	t.Helper()
	cfg := SeedConfig()
	v, err := NewVeltrix(autoscale.DefaultConfig(), cfg.PollInterval)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, Run(cfg, v), Run(cfg, &KEDAKafka{LagThreshold: kedaThreshold})
}

// table is the Markdown table of the runs in docs/deployment.md.
func table(runs ...Result) string {
	var b strings.Builder
	b.WriteString("| policy | scale events (rebalances) | reversals | counts used | peak lag | peak time lag | time lag > 1 s (longest stretch) | member-minutes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "| %s | %d (%d) | %d | %v | %d | %s | %s (%s) | %.0f |\n", r.Policy, r.ScaleEvents, r.Rebalances, r.Reversals,
			r.Counts, r.PeakLag, r.PeakTime.Round(100*time.Millisecond), r.Behind, r.LongestBehind, r.MemberMinutes)
	}
	return b.String()
}

// TestSeedRamp checks what docs/deployment.md claims of the simulation, and
// that its table and plot are the simulation's (-update rewrites them).
func TestSeedRamp(t *testing.T) {
	cfg, v, k := runSeed(t)
	useful := autoscale.Useful(cfg.Partitions)
	for _, s := range v.Samples {
		if s.Desired > cfg.Partitions {
			t.Fatalf("at %s veltrix asked for %d members, more than the %d partitions", s.At, s.Desired, cfg.Partitions)
		}
		if !slices.Contains(useful, s.Desired) {
			t.Fatalf("at %s veltrix asked for %d members: not one of %v, the counts that lower the partitions per member", s.At, s.Desired, useful)
		}
	}
	// The steady start: one member keeps up; the records in flight
	// between commits are no reason to scale (they were, while the
	// lower-bound rule ran before the drain count was computed).
	for _, s := range v.Samples {
		if s.At < 5*time.Minute && s.Desired != 1 {
			t.Fatalf("at %s, 1,000 records/s steady, veltrix asked for %d members: one keeps up", s.At, s.Desired)
		}
	}
	if v.ScaleEvents >= k.ScaleEvents {
		t.Errorf("veltrix scaled %d times, KEDA's formula %d: want fewer", v.ScaleEvents, k.ScaleEvents)
	}
	if v.Reversals > 1 {
		t.Errorf("veltrix changed direction %d times: want at most once (down after the burst)", v.Reversals)
	}
	if v.LongestBehind > 2*time.Minute {
		t.Errorf("veltrix stayed more than 1 s behind for %s at a stretch: want under 2 minutes", v.LongestBehind)
	}
	t.Logf("\n%s", table(v, k))

	doc := filepath.Join(docsDir, "deployment.md")
	text, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := bytes.Index(text, []byte(tableBegin)), bytes.Index(text, []byte(tableEnd))
	if begin < 0 || end < begin {
		t.Fatalf("%s has no %q … %q markers", doc, tableBegin, tableEnd)
	}
	want := tableBegin + "\n" + table(v, k) + tableEnd
	got := string(text[begin : end+len(tableEnd)])
	if *update {
		png, err := Plot("the seed's ramp: 12 partitions, members of 2,500 records/s", v, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(docsDir, plotFile), png, 0o644); err != nil {
			t.Fatal(err)
		}
		out := append(append(append([]byte(nil), text[:begin]...), want...), text[end+len(tableEnd):]...)
		if err := os.WriteFile(doc, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("the simulation table in %s is stale: run go test ./pkg/autoscale/sim -update\nhave:\n%s\nwant:\n%s", doc, got, want)
	}
	if _, err := os.Stat(filepath.Join(docsDir, plotFile)); err != nil {
		t.Errorf("no plot: %v (go test ./pkg/autoscale/sim -update)", err)
	}
}
