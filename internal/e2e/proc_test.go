package e2e

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/child"
)

// start runs bin with args until the test ends: then it gets SIGTERM, and
// SIGKILL if it has not exited 3 s later.
func start(t *testing.T, name, bin string, args ...string) *child.Process {
	t.Helper()
	return startCmd(t, name, exec.Command(bin, args...))
}

// startCmd is start for a command the caller prepared (its standard input,
// say).
func startCmd(t *testing.T, name string, cmd *exec.Cmd) *child.Process {
	t.Helper()
	p, err := child.Start(name, cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = p.Term(3 * time.Second)
		if t.Failed() {
			t.Logf("--- %s output (last 3000 bytes):\n%s", name, tail(p.Output(), 3000))
		}
	})
	return p
}

// await returns the first submatch of re in p's output, waiting at most d
// for it.
func await(t *testing.T, p *child.Process, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := p.WaitOutput(ctx, re)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// awaitMetricsURL returns the /metrics URL a veltrix command printed at
// start, waiting at most 30s for it.
func awaitMetricsURL(t *testing.T, p *child.Process) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, err := p.MetricsURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// metricsHostPort turns a printed metrics URL into host:port.
func metricsHostPort(t *testing.T, url string) string {
	t.Helper()
	hp, ok := strings.CutPrefix(url, "http://")
	if !ok {
		t.Fatalf("metrics URL %q is not http://", url)
	}
	hp, _, _ = strings.Cut(hp, "/")
	return hp
}
