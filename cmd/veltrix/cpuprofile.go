package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// cpuProfileFlag adds --cpu-profile to cmd: the benchmark harness profiles
// the binary as users run it (issue 19), where an in-process profile would
// miss what the command adds around the engine (metrics endpoint, client
// hooks, the lag monitor).
func cpuProfileFlag(cmd *cobra.Command) *string {
	var path string
	cmd.Flags().StringVar(&path, "cpu-profile", "", "write a CPU profile of the whole run to this file (go tool pprof reads it)")
	return &path
}

// startCPUProfile starts profiling into path, when set, and returns what
// stops it and closes the file; the profile covers the run up to the
// return of the command, shutdown included.
func startCPUProfile(path string) (stop func(), err error) {
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
