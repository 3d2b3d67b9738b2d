package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/veltrix/veltrix/internal/child"
)

// startProc starts bin with args as a child process named name; its
// environment drops VELTRIX_ variables so only the arguments configure
// veltrix.
func startProc(name, bin string, args ...string) (*child.Process, error) {
	return child.Start(name, exec.Command(bin, args...))
}

// waitLine waits at most timeout for an output line of p matching re and
// returns its first submatch (or the whole match).
func waitLine(ctx context.Context, p *child.Process, re *regexp.Regexp, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return p.WaitOutput(ctx, re)
}

// stop sends SIGTERM, waits for the exit (SIGKILL after grace) and returns
// the process's whole-life user+system CPU. An exit status other than 0
// is an error.
func stop(p *child.Process, grace time.Duration) (time.Duration, error) {
	if _, err := p.Term(grace); err != nil {
		return 0, err
	}
	return p.CPU()
}

// waitDone waits for p to exit by itself and returns its whole-life CPU;
// it stops p if ctx ends or timeout passes first.
func waitDone(ctx context.Context, p *child.Process, timeout time.Duration) (time.Duration, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := p.Wait(wctx); err != nil {
		_, _ = p.Term(time.Second)
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%s did not finish within %s: %s", p.Name(), timeout, p.Tail(5))
	}
	if err := p.Err(); err != nil {
		return 0, fmt.Errorf("%s exited with %v: %s", p.Name(), err, p.Tail(5))
	}
	return p.CPU()
}

// mib converts bytes to MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

// kafkaPID is the real broker's pid from scripts/kafka.sh's pid file, 0
// when it cannot be found (another run directory, another machine).
func kafkaPID() int {
	dir := os.Getenv("KAFKA_RUN_DIR")
	if dir == "" {
		dir = "/tmp/veltrix-kafka"
	}
	b, err := os.ReadFile(dir + "/kafka.pid")
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "kafka") {
		return 0
	}
	return pid
}

// buildPlain builds the plain franz-go consumer and producer binaries
// (bench/cmd/plainconsume, plainproduce) into a temporary directory.
func buildPlain(ctx context.Context, root string) (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", "vbench-bin-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	for _, name := range []string{"plainconsume", "plainproduce"} {
		if err := child.Build(ctx, root, "./bench/cmd/"+name, filepath.Join(dir, name)); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	return dir, cleanup, nil
}
