package main

import (
	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/profile"
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
func startCPUProfile(path string) (stop func(), err error) { return profile.StartCPU(path) }
