package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (the kernel fixes it for
// that ABI), so CPU read from there has a resolution of 10 ms.
const clockTicks = 100

// proc is a program under test (or a broker) running as its own process,
// observed from outside: its output lines, CPU and peak memory from /proc,
// and its whole-life CPU from the kernel's rusage once it has exited.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{}
	waitErr error

	mu    sync.Mutex
	lines []string // stdout and stderr, interleaved
	seen  chan struct{}
}

// startProc starts bin with args; the environment drops VELTRIX_ variables
// so only the arguments configure veltrix.
func startProc(name, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{}), seen: make(chan struct{})}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VELTRIX_") {
			env = append(env, kv)
		}
	}
	p.cmd.Env = env
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p.started = time.Now()
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.seen)
			p.seen = make(chan struct{})
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.waitErr = p.cmd.Wait()
		_ = pw.Close()
		<-read
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// output is the process's output so far, its last 5 lines joined: enough
// to show why it failed in an error message.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return lastLines(strings.Join(p.lines, "\n"), 5)
}

// waitLine waits for an output line matching re and returns its first
// submatch (or the whole match).
func (p *proc) waitLine(ctx context.Context, re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := 0
	for {
		p.mu.Lock()
		for ; next < len(p.lines); next++ {
			if m := re.FindStringSubmatch(p.lines[next]); m != nil {
				p.mu.Unlock()
				return m[len(m)-1], nil
			}
		}
		seen := p.seen
		p.mu.Unlock()
		select {
		case <-seen:
		case <-p.done:
			return "", fmt.Errorf("%s exited (%v) before printing %q: %s", p.name, p.waitErr, re, p.output())
		case <-deadline.C:
			return "", fmt.Errorf("%s printed no line matching %q within %s: %s", p.name, re, timeout, p.output())
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// cpu is the process's user+system CPU so far, all threads, from
// /proc/<pid>/stat.
func (p *proc) cpu() (time.Duration, error) { return procCPU(p.pid()) }

// hwmMiB is the process's peak resident set (VmHWM) in MiB.
func (p *proc) hwmMiB() float64 { return procHWM(p.pid()) }

// stop sends SIGTERM, waits for the exit (SIGKILL after grace) and returns
// the process's whole-life user+system CPU. An exit status other than 0
// is an error unless the process was killed.
func (p *proc) stop(grace time.Duration) (time.Duration, error) {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	var err error
	select {
	case <-p.done:
		if p.waitErr != nil {
			err = fmt.Errorf("%s exited with %v: %s", p.name, p.waitErr, p.output())
		}
	case <-time.After(grace):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		err = fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, grace)
	}
	return p.lifeCPU(), err
}

// wait waits for the process to exit by itself and returns its whole-life
// CPU; it kills the process if ctx ends or timeout passes first.
func (p *proc) wait(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		_, _ = p.stop(time.Second)
		return 0, fmt.Errorf("%s did not finish within %s: %s", p.name, timeout, p.output())
	case <-ctx.Done():
		_, _ = p.stop(time.Second)
		return 0, ctx.Err()
	}
	if p.waitErr != nil {
		return 0, fmt.Errorf("%s exited with %v: %s", p.name, p.waitErr, p.output())
	}
	return p.lifeCPU(), nil
}

func (p *proc) lifeCPU() time.Duration {
	if p.cmd.ProcessState == nil {
		return 0
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
}

// procCPU reads utime+stime of pid from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads fields 14 and 15 (utime, stime) of a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may hold spaces,
// so fields are counted after its closing one.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("reading /proc stat: no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("reading /proc stat: %d fields", len(f)+2)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reading /proc stat: utime %q, stime %q", f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procHWM is pid's VmHWM in MiB, 0 when unreadable.
func procHWM(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kib, _ := strconv.ParseFloat(f[1], 64)
			return kib / 1024
		}
	}
	return 0
}

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
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), "./bench/cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("building %s: %w: %s", name, err, lastLines(string(out), 5))
		}
	}
	return dir, cleanup, nil
}
