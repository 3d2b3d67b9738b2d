// Package child runs programs — mostly the veltrix binary — as child
// processes for the tests and the benchmark harness, and observes them from
// outside: their output, their exit and how long it took, their CPU and
// their peak memory. It builds the veltrix binary once per process (Veltrix).
//
// It is an ordinary package rather than a test helper because the benchmark
// harness (bench), which is not test code, measures veltrix processes too.
// It is Linux-first: CPU and peak memory of a running process come from
// /proc.
package child

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Process is a running (or exited) child process with its output captured.
// Its methods are safe for concurrent use.
type Process struct {
	name    string
	cmd     *exec.Cmd
	started time.Time

	mu                  sync.Mutex
	out, stdout, stderr bytes.Buffer  // out interleaves both streams
	changed             chan struct{} // closed and replaced at every write

	done     chan struct{} // closed once the process has exited and its output is read
	exitedAt time.Time     // set before done is closed
	err      error         // exec.Cmd.Wait's error, set before done is closed

	stopOnce sync.Once    // Term and Kill act once between them
	peak     atomic.Int64 // the highest VmHWM read, in bytes (PeakRSS)
}

// Env is the process environment without VELTRIX_ settings, so that only
// the arguments configure a veltrix child. Start uses it when the command
// has no environment of its own.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VELTRIX_") {
			env = append(env, kv)
		}
	}
	return env
}

// Start starts cmd, named name in errors. It captures the standard output
// and error (cmd must not set them); the caller may set everything else,
// such as Stdin. With cmd.Env unset the child gets Env(). On Linux the child
// is killed if this process dies first, so a killed test run leaves no
// veltrix processes behind.
func Start(name string, cmd *exec.Cmd) (*Process, error) {
	p := &Process{name: name, cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = stream{p, &p.stdout}, stream{p, &p.stderr}
	if cmd.Env == nil {
		cmd.Env = Env()
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = sysProcAttr()
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p.started = time.Now()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err, p.exitedAt = err, time.Now()
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// stream is one of the process's output streams.
type stream struct {
	p   *Process
	own *bytes.Buffer
}

func (s stream) Write(b []byte) (int, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.own.Write(b)
	s.p.out.Write(b)
	close(s.p.changed)
	s.p.changed = make(chan struct{})
	return len(b), nil
}

// Name is the name given to Start.
func (p *Process) Name() string { return p.name }

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Started is when the process was started.
func (p *Process) Started() time.Time { return p.started }

// Output is everything the process has printed so far, both streams
// interleaved as they were written.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Stdout is what the process has printed on its standard output so far.
func (p *Process) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Stderr is what the process has printed on its standard error so far.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Tail is the last n lines of Output, for error messages.
func (p *Process) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Output(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitOutput waits until the output matches re and returns the match's
// first submatch (the whole match when re has none). It fails when the
// process exits without printing it or ctx ends first.
func (p *Process) WaitOutput(ctx context.Context, re *regexp.Regexp) (string, error) {
	for {
		p.mu.Lock()
		m := re.FindStringSubmatch(p.out.String())
		changed := p.changed
		p.mu.Unlock()
		if m != nil {
			return m[min(1, len(m)-1)], nil
		}
		select {
		case <-changed:
		case <-p.done:
			// The output is complete once done is closed: one last look.
			if m := re.FindStringSubmatch(p.Output()); m != nil {
				return m[min(1, len(m)-1)], nil
			}
			return "", fmt.Errorf("%s exited (%v) before printing %q:\n%s", p.name, p.Err(), re, p.Tail(20))
		case <-ctx.Done():
			return "", fmt.Errorf("%s did not print %q: %w:\n%s", p.name, re, ctx.Err(), p.Tail(20))
		}
	}
}

// metricsURL matches the line veltrix commands print at start when they
// serve metrics.
var metricsURL = regexp.MustCompile(`metrics at (http://\S+/metrics)`)

// MetricsURL waits for the /metrics URL a veltrix command prints at start
// (run with --metrics-addr 127.0.0.1:0, say) and returns it.
func (p *Process) MetricsURL(ctx context.Context) (string, error) {
	return p.WaitOutput(ctx, metricsURL)
}

// Done is closed once the process has exited and its output is read.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitedAt is when the process exited; zero while it runs.
func (p *Process) ExitedAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitedAt
}

// Err is how the process ended: nil for exit status 0 (and while it runs),
// an *exec.ExitError otherwise.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// ExitCode is the exit status, -1 while the process runs or when a signal
// ended it.
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Wait waits for the process to exit by itself and returns nil, whatever
// its status (see Err and ExitCode), or ctx's error when ctx ends first; it
// leaves the process running then.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s still running: %w", p.name, ctx.Err())
	}
}

// Signal sends sig to the process (SIGSTOP freezes it, SIGCONT resumes
// it, a second SIGTERM makes veltrix exit at once).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Term stops the process gracefully: SIGTERM, then SIGKILL if it has not
// exited within timeout. It returns how long the exit took from the signal,
// and an error when the process had to be killed or exited with a status
// other than 0 (also when it had exited by itself before). Only the first
// Term or Kill acts; later ones return 0 and nil.
func (p *Process) Term(timeout time.Duration) (took time.Duration, err error) {
	p.stopOnce.Do(func() {
		p.PeakRSS() // the last reading before the exit
		sent := time.Now()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-p.done:
			took = max(p.ExitedAt().Sub(sent), 0)
			if werr := p.Err(); werr != nil {
				err = fmt.Errorf("%s exited with %v: %s", p.name, werr, p.Tail(5))
			}
		case <-t.C:
			_ = p.cmd.Process.Kill()
			<-p.done
			took = timeout
			err = fmt.Errorf("%s did not exit within %s of SIGTERM: %s", p.name, timeout, p.Tail(5))
		}
	})
	return took, err
}

// Kill sends SIGKILL and waits for the exit. Only the first Term or Kill
// acts.
func (p *Process) Kill() {
	p.stopOnce.Do(func() {
		p.PeakRSS() // the last reading before the exit
		_ = p.cmd.Process.Kill()
		<-p.done
	})
}
