package child

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (the kernel fixes it for
// that ABI), so CPU read from there has a resolution of 10 ms.
const clockTicks = 100

// CPU is the user+system CPU the process has used, all threads: from
// /proc/<pid>/stat while it runs (10 ms resolution), from the kernel's
// accounting of its whole life once it has exited.
func (p *Process) CPU() (time.Duration, error) {
	if !p.Exited() {
		d, err := ReadCPU(p.Pid())
		if err == nil || !p.Exited() {
			return d, err
		}
		// It exited between the check and the read.
	}
	return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime(), nil
}

// PeakRSS is the highest peak resident set in bytes read so far: VmHWM
// from /proc/<pid>/status, read by this call while the process runs, and
// by Term and Kill before they signal. Once the process has exited it
// returns the last reading, so a caller that wants the peak of a process
// that may exit by itself samples it while it runs.
//
// It does not fall back on the kernel's maximum resident set (rusage) after
// the exit: a child started with CLONE_VM, as os/exec starts it, is charged
// at exec with the parent's high-water mark, so rusage reports this (test)
// process's peak whenever that is higher than the child's own.
func (p *Process) PeakRSS() int64 {
	if !p.Exited() {
		if n, err := readPeakRSS(p.Pid()); err == nil {
			for {
				old := p.peak.Load()
				if n <= old || p.peak.CompareAndSwap(old, n) {
					break
				}
			}
		}
	}
	return p.peak.Load()
}

// ReadCPU is the user+system CPU pid has used so far, from
// /proc/<pid>/stat; for processes that are not this one's children, such
// as a broker.
func ReadCPU(pid int) (time.Duration, error) {
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

// readPeakRSS is pid's peak resident set (VmHWM) in bytes, from
// /proc/<pid>/status.
func readPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kib, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading VmHWM of %d: %w", pid, err)
			}
			return kib * 1024, nil
		}
	}
	return 0, fmt.Errorf("reading /proc/%d/status: no VmHWM (the process has exited)", pid)
}
