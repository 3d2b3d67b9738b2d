package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/generate"
)

// TestMissingBrokersExitsTwo: no --brokers is a configuration mistake
// (exit 2), not a failed run (it exited 1).
func TestMissingBrokersExitsTwo(t *testing.T) {
	r := veltrix(t, 30*time.Second, "", "process", "--metrics-addr", "")
	if r.code != 2 || !strings.Contains(r.stderr, "no brokers configured") {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestSwitchTakesSpacedValue: "--topic.create false" sets false; it
// failed with `unknown command "false"`.
func TestSwitchTakesSpacedValue(t *testing.T) {
	r := veltrix(t, 30*time.Second, "", "config", "explain", "topic.create", "--topic.create", "false", "--json")
	var out struct {
		Settings []struct{ Key, Value, From string }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Settings) != 1 {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if s := out.Settings[0]; s.Value != "false" || s.From != "topic.create" {
		t.Fatalf("topic.create = %+v, want false from the flag", s)
	}
}

// TestCommandLineMistakes: each exits 2 and, where a name is close, says
// which one was meant.
func TestCommandLineMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"produce", "--brokrs", "x"}, "did you mean --brokers?"},
		{[]string{"process", "--max_records", "3"}, "did you mean --processor.batch.max_records?"},
		{[]string{"prodce"}, "did you mean produce?"},
		{[]string{"config", "explian"}, "did you mean explain?"},
		{[]string{"produce", "extra"}, `unexpected argument "extra"`},
		{[]string{"plan", "--rate"}, "flag needs an argument"},
	} {
		r := veltrix(t, 30*time.Second, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("veltrix %v: exit %d, want 2 and %q in: %s", tc.args, r.code, tc.want, r.stderr)
		}
	}
}

// TestVersion: version and --version name the release, the Go and the
// franz-go versions; -ldflags sets the release.
func TestVersion(t *testing.T) {
	a := veltrix(t, 30*time.Second, "", "version")
	b := veltrix(t, 30*time.Second, "", "--version")
	if a.code != 0 || b.code != 0 || a.stdout != b.stdout {
		t.Fatalf("version %d %q, --version %d %q", a.code, a.stdout, b.code, b.stdout)
	}
	for _, re := range []string{`^veltrix dev\n`, `commit\s+\S+`, `go\s+go1\.\d+`, `franz-go\s+v1\.\d+\.\d+`} {
		if !regexp.MustCompile(re).MatchString(a.stdout) {
			t.Errorf("version output lacks %s:\n%s", re, a.stdout)
		}
	}
	bin := filepath.Join(t.TempDir(), "veltrix")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=1.2.3-test -X main.commit=abc123", "-o", bin, "./cmd/veltrix")
	build.Dir = child.Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "veltrix 1.2.3-test\n") || !strings.Contains(string(out), "abc123") {
		t.Fatalf("ldflags version: %v %q", err, out)
	}
}

// TestHelpLayout: common flags first with their real types, then every
// key, wrapped to $COLUMNS.
func TestHelpLayout(t *testing.T) {
	r := veltrixRun(t, 30*time.Second, "", []string{"COLUMNS=72"}, "produce", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	flags, settings := strings.Index(r.stdout, "\nFlags:\n"), strings.Index(r.stdout, "\nSettings ")
	if flags < 0 || settings < flags {
		t.Fatalf("want Flags: before Settings:\n%s", r.stdout)
	}
	for _, want := range []string{"--rate float", "--count int", "--duration duration", "--size size", "--brokers list"} {
		if i := strings.Index(r.stdout, want); i < flags || i > settings {
			t.Errorf("%q not among the common flags", want)
		}
	}
	for _, want := range []string{"--producer.rate float", "--kafka.brokers list", "--producer.acks all|leader|none", "--kafka.connect_timeout duration"} {
		if i := strings.Index(r.stdout, want); i < settings {
			t.Errorf("%q not among the settings", want)
		}
	}
	for _, line := range strings.Split(r.stdout[flags:], "\n") {
		if len([]rune(line)) > 72 && !strings.Contains(line, "VELTRIX_") {
			t.Errorf("line wider than 72: %q", line)
		}
	}
}

// TestEveryCommandHasExamples walks the command tree.
func TestEveryCommandHasExamples(t *testing.T) {
	walk(newRoot(), func(c *cobra.Command) {
		if c.Example == "" && c.Name() != "help" && c.Name() != "completion" {
			t.Errorf("%s has no examples", c.CommandPath())
		}
	})
}

// TestMetricsPortFallbackSaysSo: when the default metrics port is taken,
// the port used instead is named (it fell back silently).
func TestMetricsPortFallbackSaysSo(t *testing.T) {
	// Taken by this test, or already by someone else: taken either way.
	if ln, err := net.Listen("tcp", ":9464"); err == nil {
		defer func() { _ = ln.Close() }()
	}
	r := veltrix(t, 30*time.Second, "", "produce", "--brokers", "127.0.0.1:1", "--kafka.connect_timeout", "200ms", "--count", "1")
	if !regexp.MustCompile(`default metrics address :9464 is unavailable .*; serving metrics on 127\.0\.0\.1:\d+ instead`).MatchString(r.stderr) {
		t.Fatalf("stderr does not name the fallback port: %s", r.stderr)
	}
}

// TestDefaultClientIDNamesMember: the default client id carries host and
// pid so group members differ; a chosen one is kept.
func TestDefaultClientIDNamesMember(t *testing.T) {
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	r := veltrix(t, 30*time.Second, "", "config", "explain", "kafka.client_id")
	if !regexp.MustCompile(`kafka\.client_id\s+veltrix-` + regexp.QuoteMeta(host) + `-\d+\s+default`).MatchString(r.stdout) {
		t.Fatalf("default client id: %s", r.stdout)
	}
	r = veltrix(t, 30*time.Second, "", "config", "explain", "kafka.client_id", "--kafka.client_id", "billing-1")
	if !strings.Contains(r.stdout, "billing-1 ") {
		t.Fatalf("chosen client id: %s", r.stdout)
	}
}

// TestExplainChangedComparesValues: a default spelled out in a file or
// the environment is not a change (it was listed as one).
func TestExplainChangedComparesValues(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	body := "processor:\n  batch:\n    max_records: 500\n  commit:\n    interval: 5s\nproducer:\n  batch_max_bytes: 1048576B\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := veltrixRun(t, 30*time.Second, "", []string{"VELTRIX_HANDLER_TIMEOUT=30s"}, "config", "explain", "--changed", "--config", file, "--topic", "orders")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"processor.commit.interval", "topic.name"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--changed lacks %s:\n%s", want, r.stdout)
		}
	}
	for _, not := range []string{"max_records", "handler.timeout", "batch_max_bytes"} {
		if strings.Contains(r.stdout, not) {
			t.Errorf("--changed lists %s, set to its default:\n%s", not, r.stdout)
		}
	}
}

// TestPlanPasteable: the recommendation is a YAML file that validates and
// a line of flags; measuring noop is warned about.
func TestPlanPasteable(t *testing.T) {
	r := veltrix(t, 30*time.Second, "", "plan", "--rate", "5600", "--per-instance", "1000", "--p99", "50ms", "--yaml")
	file := filepath.Join(t.TempDir(), "plan.yaml")
	if r.code != 0 || os.WriteFile(file, []byte(r.stdout), 0o600) != nil {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	v := veltrix(t, 30*time.Second, "", "config", "explain", "--changed", "--config", file)
	if v.code != 0 || !regexp.MustCompile(`topic\.partitions\s+16\s+file`).MatchString(v.stdout) || !strings.Contains(v.stdout, "deploy.p99_target") {
		t.Fatalf("plan's YAML as --config: exit %d: %s %s\n%s", v.code, v.stdout, v.stderr, r.stdout)
	}
	r = veltrix(t, 30*time.Second, "", "plan", "--rate", "5600", "--per-instance", "1000")
	if !strings.Contains(r.stdout, "topic:\n  partitions: 16\n") || !strings.Contains(r.stdout, "--topic.partitions=16 --deploy.instances=8") {
		t.Fatalf("plan text lacks the YAML or the flags:\n%s", r.stdout)
	}
	r = veltrix(t, 90*time.Second, "", "plan", "--rate", "1000", "--measure", "500ms", "--topic.partitions", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "WARNING: the measured handler is noop") || !strings.Contains(r.stderr, "noop") {
		t.Fatalf("noop measurement not warned about: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestDoctorShowsSums: the memory finding shows the sum it compares,
// runtime included, and durations read as people write them.
func TestDoctorShowsSums(t *testing.T) {
	r := veltrix(t, 30*time.Second, "", "config", "doctor", "--deploy.memory_limit", "120MiB",
		"--deploy.expected_rate", "50000", "--processor.commit.interval", "1m")
	for _, want := range []string{"= 80MiB of records", "2 × 80MiB + 32MiB = 192MiB", "(1m × 50000/s = 3000000"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "1m0s") {
		t.Errorf("doctor prints 1m0s:\n%s", r.stdout)
	}
}

// TestLineGuard: a message while the bar holds the line starts a line of
// its own; after the bar cleared its line, none is added.
func TestLineGuard(t *testing.T) {
	var b bytes.Buffer
	g := newLineGuard(&b)
	_, _ = g.Bar().Write([]byte("\rproducing 40% [2s:3s]"))
	_, _ = g.Write([]byte("veltrix: shutting down\n"))
	_, _ = g.Bar().Write([]byte("\r                    \r"))
	_, _ = g.Write([]byte("done\n"))
	if want := "\rproducing 40% [2s:3s]\nveltrix: shutting down\n\r                    \rdone\n"; b.String() != want {
		t.Fatalf("got %q\nwant %q", b.String(), want)
	}
}

// TestProgressNotTerminal: without a terminal, progress writes plain
// lines only, never a bar's carriage returns.
func TestProgressNotTerminal(t *testing.T) {
	var b bytes.Buffer
	p := startProgress(newLineGuard(&b), 0, time.Minute, func() generate.Result { return generate.Result{Acked: 5} })
	p.Stop()
	if strings.Contains(b.String(), "\r") {
		t.Fatalf("bar drawn without a terminal: %q", b.String())
	}
	if got := timedDescription(generate.Result{Acked: 3000, Failed: 2}, generate.Result{Acked: 1000}, 2*time.Second); got != "producing: 3000 acked, 1000 events/s, 2 failed" {
		t.Fatalf("description %q", got)
	}
}

func TestProcessStatusFormat(t *testing.T) {
	if got := statusLine(12*time.Second, 4500, 1234, 0, 3); got != "   12s  processed    4500/s  lag    1234  failed 0  partitions 3" {
		t.Errorf("status line %q", got)
	}
	one := func(ps ...int32) []string { return ownedLabels(map[string][]int32{"events": ps}, false) }
	for _, tc := range []struct {
		old, cur []string
		want     string
	}{
		{nil, one(0, 1, 2), "assignment: +0,1,2; owns 0,1,2"},
		{one(0, 1, 2), one(5, 0, 2), "assignment: +5 -1; owns 0,2,5"},
		{one(0), nil, "assignment: -0; owns none"},
		{one(1), one(1), ""},
		{one(2, 10), one(10, 11), "assignment: +11 -2; owns 10,11"},
		// Several input topics: partition numbers alone would repeat.
		{nil, ownedLabels(map[string][]int32{"payments": {1, 0}, "orders": {0}}, true), "assignment: +orders/0,payments/0,payments/1; owns orders/0,payments/0,payments/1"},
		{ownedLabels(map[string][]int32{"orders": {0, 1}}, true), ownedLabels(map[string][]int32{"orders": {1}, "payments": {0}}, true),
			"assignment: +payments/0 -orders/0; owns orders/1,payments/0"},
	} {
		if got := assignmentChange(tc.old, tc.cur); got != tc.want {
			t.Errorf("assignmentChange(%v, %v) = %q, want %q", tc.old, tc.cur, got, tc.want)
		}
	}
}

// TestProcessStatusSeveralTopics: process's terminal view names each
// partition's topic when it consumes several, and counts every topic's
// partitions; with one topic it shows numbers as before.
func TestProcessStatusSeveralTopics(t *testing.T) {
	owned := map[string][]int32{"orders": {1, 0}, "payments": {0}}
	for _, tc := range []struct {
		topics bool
		want   string
	}{
		{true, "assignment: +orders/0,orders/1,payments/0; owns orders/0,orders/1,payments/0\n"},
		{false, "assignment: +0,1,0; owns 0,1,0\n"},
	} {
		var b bytes.Buffer
		s := &processStatus{w: &b, owned: func() map[string][]int32 { return owned }, topics: tc.topics,
			gather: prometheus.NewRegistry(), group: "g", start: time.Now(), lastAt: time.Now()}
		s.tick(time.Now())
		lines := strings.SplitAfter(b.String(), "\n")
		if len(lines) < 2 || lines[0] != tc.want || !strings.Contains(lines[1], "partitions 3") {
			t.Errorf("topics %v: printed %q, want first %q and 3 partitions", tc.topics, b.String(), tc.want)
		}
	}
}
