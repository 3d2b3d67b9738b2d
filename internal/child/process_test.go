package child

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sh(t *testing.T, script string) *Process {
	t.Helper()
	p, err := Start("sh", exec.Command("sh", "-c", script))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func TestOutputAndExit(t *testing.T) {
	p := sh(t, `echo out; echo err >&2; echo "metrics at http://127.0.0.1:9/metrics, status page at x"; exit 3`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url, err := p.MetricsURL(ctx)
	if err != nil || url != "http://127.0.0.1:9/metrics" {
		t.Fatalf("MetricsURL = %q, %v", url, err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if p.ExitCode() != 3 || p.Err() == nil || p.ExitedAt().IsZero() {
		t.Fatalf("exit code %d, err %v, at %v", p.ExitCode(), p.Err(), p.ExitedAt())
	}
	if !strings.Contains(p.Stdout(), "out") || strings.Contains(p.Stdout(), "err") || p.Stderr() != "err\n" {
		t.Fatalf("stdout %q, stderr %q", p.Stdout(), p.Stderr())
	}
	// The two streams interleave in no fixed order; Tail counts lines.
	if got := p.Tail(2); strings.Count(got, "\n") != 1 {
		t.Fatalf("Tail(2) = %q", got)
	}
	if _, err := p.WaitOutput(ctx, regexp.MustCompile("never")); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("WaitOutput after the exit: %v", err)
	}
}

func TestEnvDropsVeltrixSettings(t *testing.T) {
	t.Setenv("VELTRIX_TOPIC_NAME", "x")
	t.Setenv("CHILD_TEST_KEEP", "y")
	p := sh(t, `echo "[$VELTRIX_TOPIC_NAME][$CHILD_TEST_KEEP]"`)
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.Stdout(); got != "[][y]\n" {
		t.Fatalf("child saw %q", got)
	}
}

func TestTerm(t *testing.T) {
	// Exits 0 on SIGTERM: the exit is measured and no error.
	p := sh(t, `trap 'exit 0' TERM; echo up; while :; do sleep 0.01; done`)
	if _, err := p.WaitOutput(context.Background(), regexp.MustCompile("up")); err != nil {
		t.Fatal(err)
	}
	took, err := p.Term(10 * time.Second)
	if err != nil || took <= 0 || took > 10*time.Second {
		t.Fatalf("Term = %s, %v", took, err)
	}
	if took2, err := p.Term(time.Second); took2 != 0 || err != nil {
		t.Fatalf("second Term = %s, %v; want a no-op", took2, err)
	}

	// Ignores SIGTERM: killed after the timeout, and an error says so.
	p = sh(t, `trap '' TERM; echo up; while :; do sleep 0.01; done`)
	if _, err := p.WaitOutput(context.Background(), regexp.MustCompile("up")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Term(200 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not exit") {
		t.Fatalf("Term of a process ignoring SIGTERM: %v", err)
	}
	if !p.Exited() {
		t.Fatal("still running after Term")
	}
}

func TestWaitLeavesRunning(t *testing.T) {
	p := sh(t, `echo up; exec sleep 60`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx); err == nil {
		t.Fatal("Wait returned nil for a running process")
	}
	if p.Exited() || p.ExitCode() != -1 {
		t.Fatal("Wait stopped the process")
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if p.ExitCode() != -1 || p.Err() == nil {
		t.Fatalf("killed: exit code %d, err %v", p.ExitCode(), p.Err())
	}
}

// TestPeakRSS reads the peak while the process runs and keeps the last
// reading after the exit.
func TestPeakRSS(t *testing.T) {
	p := sh(t, `echo up; exec sleep 60`)
	if _, err := p.WaitOutput(context.Background(), regexp.MustCompile("up")); err != nil {
		t.Fatal(err)
	}
	running := p.PeakRSS()
	if running <= 0 {
		t.Fatalf("PeakRSS while running = %d", running)
	}
	if _, err := p.CPU(); err != nil {
		t.Fatalf("CPU while running: %v", err)
	}
	p.Kill()
	if after := p.PeakRSS(); after < running {
		t.Fatalf("PeakRSS after the exit = %d, below the reading while running %d", after, running)
	}
	if _, err := p.CPU(); err != nil {
		t.Fatalf("CPU after the exit: %v", err)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 250, stime 50 ticks.
	stat := "4242 (veltrix (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 1000000 2000 18446744073709551615"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1"); err == nil {
		t.Fatal("a short stat line parsed")
	}
}
