package e2e

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// proc is a program the test runs, with its output kept for matching and
// for the failure message.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output is everything the program printed so far.
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs bin with args until the test ends: then it gets SIGTERM, a
// second SIGTERM (veltrix exits at once on it) if it has not exited 3 s
// later, and SIGKILL after 2 s more.
func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	return startCmd(t, name, exec.Command(bin, args...))
}

// startCmd is start for a command the caller prepared (its standard input,
// say).
func startCmd(t *testing.T, name string, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.Env = kafkatest.CleanEnv()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(3 * time.Second)
		if t.Failed() {
			t.Logf("--- %s output (last 3000 bytes):\n%s", name, tail(p.Output(), 3000))
		}
	})
	return p
}

// stop sends SIGTERM and waits for the exit; after grace it signals again,
// and kills the process 2 s after that.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// await returns the first submatch of re in the program's output, waiting
// at most d for it.
func (p *proc) await(t *testing.T, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %s:\n%s", p.name, re, tail(p.Output(), 3000))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not print %s within %s:\n%s", p.name, re, d, tail(p.Output(), 3000))
	return ""
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

// metricsURL matches the URL veltrix commands print at start.
var metricsURL = regexp.MustCompile(`metrics at (http://\S+/metrics)`)
