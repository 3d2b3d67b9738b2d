package faults

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPartialReportKeepsOtherRows: a run of some scenarios (-faults.only)
// replaces their rows and keeps the others, at the same scale only.
func TestPartialReportKeepsOtherRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RELIABILITY.md")
	first := []Result{
		{Scenario: "baseline", Cluster: "embedded", Produced: 10, Pass: true},
		{Scenario: "sigkill", Cluster: "kafka", Produced: 20, Pass: true},
		{Scenario: "zombie", Cluster: "embedded", Produced: 30, Pass: true},
	}
	if err := writeReport(path, first, true); err != nil {
		t.Fatal(err)
	}
	if err := writeReport(path, []Result{{Scenario: "zombie", Cluster: "embedded", Produced: 31, Notes: "a|b"}}, true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"| baseline | embedded | 10 |", "| sigkill | kafka | 20 |", "| zombie | embedded | 31 |", "**NO** | a/b |"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "| zombie | embedded | 30 |") {
		t.Errorf("the rerun scenario's old row was kept:\n%s", got)
	}
	// Embedded rows first, scenarios in report order.
	if i, j := strings.Index(got, "| zombie | embedded"), strings.Index(got, "| sigkill | kafka"); i < 0 || j < 0 || i > j {
		t.Errorf("rows out of order:\n%s", got)
	}
	// Another scale starts over.
	if err := writeReport(path, []Result{{Scenario: "zombie", Cluster: "kafka", Produced: 5, Pass: true}}, false); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), "| baseline | embedded |") {
		t.Errorf("a test-scale run kept full-scale rows:\n%s", b)
	}
}

// TestReportKeepsTheCommittedRows: rewriting docs/RELIABILITY.md with no new
// result keeps every row it has.
func TestReportKeepsTheCommittedRows(t *testing.T) {
	orig, err := os.ReadFile("../../docs/RELIABILITY.md")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "RELIABILITY.md")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	full := strings.Contains(string(orig), "Scale: full scale")
	if err := writeReport(path, nil, full); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	rows := 0
	for _, line := range strings.Split(string(orig), "\n") {
		if strings.Count(line, "|") == resultColumns+1 && !strings.HasPrefix(line, "| scenario |") && !strings.HasPrefix(line, "|---") {
			rows++
			if !strings.Contains(string(got), line+"\n") {
				t.Errorf("row dropped: %s", line)
			}
		}
	}
	if rows == 0 {
		t.Fatal("no results rows found in docs/RELIABILITY.md")
	}
	// The exactly_once section is written by hand from go test's results.
	i := bytes.Index(orig, []byte(exactlyOnceHeading))
	if i < 0 {
		t.Fatalf("docs/RELIABILITY.md has no %q section", strings.TrimSpace(exactlyOnceHeading))
	}
	if !strings.HasSuffix(string(got), string(orig[i:])) {
		t.Errorf("the %q section was not kept", strings.TrimSpace(exactlyOnceHeading))
	}
}
