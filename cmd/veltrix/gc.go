package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/doctor"
)

// tuneGC sets the garbage collector for a long-running engine: GOGC from
// deploy.gc_percent unless the GOGC environment variable is set, and the
// soft memory limit from the instance's memory limit (deploy.memory_limit,
// else the cgroup under cgroupRoot) unless GOMEMLIMIT is set.
//
// A drain keeps up to the buffer budget of records queued, whose fetch
// buffers the collector must mark at every cycle; at Go's GOGC=100 that
// marking was most of what a backlog drain cost beyond a plain franz-go
// loop (BENCHMARKS.md, issue 19). A higher GOGC collects half as often for
// up to 1.5 × the heap; the memory limit, where one is known, takes the
// extra back before the kernel would kill the process.
func tuneGC(d config.DeployConfig, cgroupRoot string, log *slog.Logger) {
	gogc, gogcFrom := strconv.Itoa(d.GCPercent), "deploy.gc_percent"
	if env, ok := os.LookupEnv("GOGC"); ok {
		gogc, gogcFrom = env, "GOGC" // the runtime read it at start
	} else if d.GCPercent > 0 {
		debug.SetGCPercent(d.GCPercent)
	}
	limit, limitFrom := int64(0), "none known"
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		limit, limitFrom = debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	} else if mem, err := doctor.ReadMemory(d, cgroupRoot); err != nil {
		log.Warn("no soft memory limit for the garbage collector", "err", err)
	} else if mem.Limit > 0 {
		limit, limitFrom = mem.Limit, mem.Source
		debug.SetMemoryLimit(limit)
	}
	log.Debug("garbage collector", "gogc", gogc, "gogc_from", gogcFrom, "memory_limit", limit, "memory_limit_from", limitFrom)
}
