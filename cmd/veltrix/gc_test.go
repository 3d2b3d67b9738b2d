package main

import (
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/veltrix/veltrix/internal/config"
)

// TestTuneGC: deploy.gc_percent sets GOGC and a known memory limit becomes
// the collector's soft limit, unless the GOGC and GOMEMLIMIT environment
// variables say otherwise.
func TestTuneGC(t *testing.T) {
	gogc, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(gogc)
		debug.SetMemoryLimit(limit)
	})
	unset := func(name string) {
		old, had := os.LookupEnv(name)
		_ = os.Unsetenv(name)
		t.Cleanup(func() {
			if had {
				_ = os.Setenv(name, old)
			}
		})
	}
	unset("GOGC")
	unset("GOMEMLIMIT")
	log := slog.New(slog.DiscardHandler)
	noCgroup := t.TempDir()
	read := func() (int, int64) {
		g := debug.SetGCPercent(-1)
		debug.SetGCPercent(g)
		return g, debug.SetMemoryLimit(-1)
	}

	tuneGC(config.DeployConfig{GCPercent: 200}, noCgroup, log)
	if g, l := read(); g != 200 || l != math.MaxInt64 {
		t.Fatalf("defaults without a known limit: GOGC %d, memory limit %d; want 200 and none", g, l)
	}

	tuneGC(config.DeployConfig{GCPercent: 300, MemoryLimit: 1 << 30}, noCgroup, log)
	if g, l := read(); g != 300 || l != 1<<30 {
		t.Fatalf("deploy.memory_limit 1GiB: GOGC %d, memory limit %d", g, l)
	}

	cgroup := t.TempDir()
	if err := os.WriteFile(filepath.Join(cgroup, "memory.max"), []byte("536870912\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tuneGC(config.DeployConfig{GCPercent: 200}, cgroup, log)
	if _, l := read(); l != 512<<20 {
		t.Fatalf("cgroup memory.max 512MiB: memory limit %d", l)
	}

	// The environment wins: what the runtime took from it stays.
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(64 << 20)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "64MiB")
	tuneGC(config.DeployConfig{GCPercent: 200, MemoryLimit: 1 << 30}, cgroup, log)
	if g, l := read(); g != 150 || l != 64<<20 {
		t.Fatalf("GOGC=150 and GOMEMLIMIT=64MiB set: GOGC %d, memory limit %d", g, l)
	}
}
