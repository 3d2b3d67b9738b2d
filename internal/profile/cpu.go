// Package profile starts and stops CPU profiles for veltrix's binaries and
// the benchmark's subjects, which are profiled as users run them (issue
// 19): an in-process profile misses what a command adds around the engine.
package profile

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// StartCPU starts a CPU profile into path, when set, and returns what stops
// it and closes the file (a no-op for an empty path): the profile covers
// the run up to the stop.
func StartCPU(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close() // the profile is written by StopCPUProfile; nothing to report
	}, nil
}
