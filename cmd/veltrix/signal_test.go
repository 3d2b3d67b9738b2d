package main

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestSecondSignalExitsAtOnce: the first SIGTERM starts a graceful drain
// that a slow handler would stretch to processor.shutdown_timeout; the second
// exits immediately with code 1.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	topic := kafkatest.Name(t, "in")
	cmd := exec.Command(bin, "demo", "--topic", topic, "--metrics-addr", "", "--handler", "simulate",
		"--handler.simulate.batch_delay", "20s", "--handler.timeout", "1m", "--processor.shutdown_timeout", "1m", "--rate", "100")
	cmd.Env = kafkatest.CleanEnv()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "running until Ctrl-C") {
			break
		}
	}
	time.Sleep(2 * time.Second) // batches are now in the slow handler
	_ = cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for sc.Scan() {
		}
	}()
	err := cmd.Wait()
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s to exit after the second signal", took)
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want code 1", err)
	}
}
