package bench

import (
	"syscall"
	"time"
)

// settleDisk writes the page cache's dirty pages out before a measured run,
// so that every run starts with none: sync(2) returns once they are
// written. A broker on the same machine writes its log into the page
// cache — each 500k × 1 KiB produce run leaves about 500 MiB dirty — and
// without the flush a run could start near the kernel's background
// threshold (vm.dirty_background_ratio, 10% of memory; Dirty stood at
// 2.1-2.2 GB through the 1 KiB produce runs of the 2026-12-03 full run)
// and meet the previous subject's writeback. The flush takes 0.1-0.2 s
// here. It removes that confound only: the rate of 1 KiB produce runs on
// the real broker still falls run after run with it (BENCHMARKS.md,
// Analysis). It logs the flush when it took long enough to matter.
func (o *Options) settleDisk(before string) {
	dirty := meminfoMiB("Dirty")
	began := time.Now()
	syscall.Sync()
	if took := time.Since(began); took >= 100*time.Millisecond {
		o.logf("disk: wrote %d MiB of dirty pages in %.1fs before %s", dirty, took.Seconds(), before)
	}
}
