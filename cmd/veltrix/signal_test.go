package main

import (
	"context"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestSecondSignalExitsAtOnce: the first SIGTERM starts a graceful drain
// that a handler call still running would stretch to
// processor.shutdown_timeout; the second exits immediately with code 1.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	topic := kafkatest.Name(t, "in")
	// The first handler call hangs, deaf to its context: past
	// handler.timeout it shows as overdue, and the drain waits for it.
	p := startVeltrix(t, "demo", "--topic", topic, "--metrics-addr", "127.0.0.1:0", "--handler", "simulate",
		"--handler.simulate.hang_call", "1", "--handler.timeout", "200ms", "--processor.shutdown_timeout", "1m", "--rate", "100")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url, err := p.MetricsURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 60*time.Second, "a handler call overdue", func() bool {
		return sumSeries(scrape(url), "veltrix_overdue_handler_calls") >= 1
	})
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The second signal must find the drain started, not race the first.
	if _, err := p.WaitOutput(ctx, regexp.MustCompile(`veltrix: shutting down`)); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if took := p.ExitedAt().Sub(sent); took > 5*time.Second {
		t.Fatalf("took %s to exit after the second signal", took)
	}
	if p.ExitCode() != 1 || !strings.Contains(p.Stderr(), "second signal, exiting now") {
		t.Fatalf("exit %v, want code 1 after the second signal", p.Err())
	}
}

// sumSeries adds up every series of the metric name in a scrape.
func sumSeries(m map[string]float64, name string) float64 {
	var sum float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			sum += v
		}
	}
	return sum
}
