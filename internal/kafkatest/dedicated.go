package kafkatest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Dedicated is a real Apache Kafka broker of one test's own, started by
// scripts/kafka.sh in a directory and on ports of its own, so stopping it
// disturbs no other test (nor another checkout's run on the same machine).
// It is stopped and its data deleted when the test ends.
type Dedicated struct {
	Brokers []string
	run     func(keep bool, args ...string) error
}

// StartDedicated starts a Dedicated broker, or skips the test loudly as
// Real does when the suite has no real broker (the same Java and Kafka
// serve both); in CI that is a failure.
func StartDedicated(t testing.TB) *Dedicated {
	t.Helper()
	Real(t)
	d, err := NewDedicated(t)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// NewDedicated starts a Dedicated broker and returns an error where
// StartDedicated fails the test, so a caller off the test's goroutine can
// use it; the caller checks first that the suite has a real broker. The
// broker is stopped and its data deleted when t ends.
func NewDedicated(t testing.TB) (*Dedicated, error) {
	script, err := scriptPath()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	controllerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("veltrix-kafka-dedicated-%d", port))
	d := &Dedicated{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}}
	d.run = func(keep bool, args ...string) error {
		keepData := "0"
		if keep {
			keepData = "1"
		}
		cmd := exec.Command(script, args...)
		cmd.Env = append(os.Environ(), "KAFKA_RUN_DIR="+dir, "KAFKA_PORT="+strconv.Itoa(port),
			"KAFKA_CONTROLLER_PORT="+strconv.Itoa(controllerPort), "KAFKA_KEEP_DATA="+keepData)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("kafka.sh %v: %w\n%s", args, err, out)
		}
		if strings.Contains(string(out), "not started by this script") {
			// Stopping it would be a no-op, and a test would pass without
			// its outage.
			return fmt.Errorf("kafka.sh %v: another broker answers on port %d:\n%s", args, port, out)
		}
		return nil
	}
	stopClean := func() {
		_ = d.run(false, "stop")
		_ = os.RemoveAll(dir)
	}
	stopClean()
	t.Cleanup(stopClean)
	if err := d.run(true, "start"); err != nil {
		return nil, err
	}
	return d, nil
}

// Stop stops the broker, keeping its data.
func (d *Dedicated) Stop() error { return d.run(true, "stop") }

// Start starts the stopped broker again with its data, on the same port.
func (d *Dedicated) Start() error { return d.run(true, "start") }

// Restart stops the broker, waits down, and starts it again with its data.
func (d *Dedicated) Restart(down time.Duration) error {
	if err := d.Stop(); err != nil {
		return err
	}
	time.Sleep(down)
	return d.Start()
}

// Wipe stops the broker and starts it again without its data, as a broker
// that lost its disk: new topic IDs, no groups.
func (d *Dedicated) Wipe() error {
	if err := d.run(false, "stop"); err != nil {
		return err
	}
	return d.run(false, "start")
}

// Script returns the path of scripts/kafka.sh, found above the test's
// working directory, for tests that run Kafka's own tools through its
// `tool` command.
func Script() (string, error) { return scriptPath() }

// scriptPath finds scripts/kafka.sh above the test's working directory
// (the package directory, at any depth).
func scriptPath() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "kafka.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/kafka.sh not found above the working directory")
		}
		dir = parent
	}
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
