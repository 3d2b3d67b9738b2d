package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/veltrix/veltrix/internal/config"
)

// CgroupRoot is where the cgroup file system is mounted.
const CgroupRoot = "/sys/fs/cgroup"

// Memory is one instance's memory limit and where it was found.
type Memory struct {
	Limit  int64  // bytes; 0 when no limit is known
	Source string // deploy.memory_limit, or the cgroup file it was read from
}

// unlimited is the threshold above which a cgroup v1 limit means "none"
// (the kernel reports about 2^63 rounded down to a page).
const unlimited = 1 << 60

// ReadMemory returns the memory limit doctor checks against:
// deploy.memory_limit when set, else the cgroup limit under root — cgroup v2
// memory.max, then cgroup v1 memory/memory.limit_in_bytes — else none. root
// is CgroupRoot outside tests.
func ReadMemory(d config.DeployConfig, root string) (Memory, error) {
	if d.MemoryLimit > 0 {
		return Memory{Limit: d.MemoryLimit, Source: "deploy.memory_limit"}, nil
	}
	for _, name := range []string{"memory.max", "memory/memory.limit_in_bytes", "memory.limit_in_bytes"} {
		path := filepath.Join(root, name)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Memory{}, fmt.Errorf("reading memory limit: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return Memory{}, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("reading memory limit from %s: %q is not a number", path, v)
		}
		if n >= unlimited {
			return Memory{}, nil
		}
		return Memory{Limit: n, Source: path}, nil
	}
	return Memory{}, nil
}

// runtimeBase is what a processor instance uses before any record: the Go
// runtime, the clients, metrics. Measured RSS of an idle veltrix process is
// about 20-30 MiB; 32 MiB keeps the estimate on the safe side.
const runtimeBase = 32 << 20

// partitionsPerInstance is how many partitions the busiest instance owns
// when the group runs deploy.instances members (at least one each).
func partitionsPerInstance(in Input) int {
	p, _ := partitions(in)
	n := max(1, min(in.Config.Deploy.Instances, p))
	return (p + n - 1) / n
}

// fetchInFlight estimates the fetched bytes one instance holds: franz-go
// keeps one fetch per broker, each at most fetch.max_bytes and at most
// max_partition_bytes per owned partition.
func fetchInFlight(in Input) int64 {
	f := in.Config.Processor.Fetch
	brokers := max(1, len(in.Config.Kafka.Brokers))
	if in.Cluster != nil && in.Cluster.Brokers > 0 {
		brokers = in.Cluster.Brokers
	}
	return min(int64(brokers)*f.MaxBytes, int64(partitionsPerInstance(in))*f.MaxPartitionBytes)
}

// liveBytes is the most record data one instance holds at once: its queues
// up to the buffer budget, one fetch in flight when the pause begins, and
// the producer's buffered records.
func liveBytes(in Input) int64 {
	c := in.Config
	return c.Processor.Buffer.MaxBytes + fetchInFlight(in) + int64(c.Producer.MaxBufferedRecords)*c.Deploy.RecordSize
}

// liveSum spells out liveBytes: "buffer 64MiB + fetch 16MiB + producer
// buffer 10000 × 100B (977KiB) = 81MiB of records".
func liveSum(in Input) string {
	c := in.Config
	prod := int64(c.Producer.MaxBufferedRecords) * c.Deploy.RecordSize
	return fmt.Sprintf("processor.buffer.max_bytes %s + one fetch %s + producer buffer %d × %s (%s) = %s of records",
		mib(c.Processor.Buffer.MaxBytes), mib(fetchInFlight(in)), c.Producer.MaxBufferedRecords, mib(c.Deploy.RecordSize), mib(prod), mib(liveBytes(in)))
}

// BufferMemory compares the memory the instance may hold — buffered
// records, one fetch, the producer's buffer — with the memory limit.
// veltrix process makes the limit the collector's soft limit (GOMEMLIMIT),
// and the collector needs room past the live data to keep up: live data
// above half the limit has it collecting almost continuously, and an
// instance without GOMEMLIMIT at its GOGC (deploy.gc_percent) risks an OOM
// kill.
func BufferMemory(in Input) []Finding {
	limit := in.Memory.Limit
	if limit == 0 {
		return []Finding{{Check: "memory", Severity: Info,
			Why: "no memory limit is known (no cgroup limit here and deploy.memory_limit=0), so the buffer and fetch sizes were not checked against one",
			Fix: "deploy.memory_limit=1GiB"}}
	}
	live := liveBytes(in)
	fix := memoryFix(in, limit)
	switch {
	case live+runtimeBase >= limit:
		return []Finding{{Check: "memory", Severity: Error,
			Why: fmt.Sprintf("under a backlog one instance holds %s + the Go runtime and clients (about %s) = %s, at least its %s memory limit (%s): it will be OOM-killed",
				liveSum(in), mib(runtimeBase), mib(live+runtimeBase), mib(limit), in.Memory.Source),
			Fix: fix}}
	case 2*live+runtimeBase > limit:
		return []Finding{{Check: "memory", Severity: Warn,
			Why: fmt.Sprintf("under a backlog one instance holds %s; the garbage collector needs room for as much again plus the Go runtime and clients (about %s): 2 × %s + %s = %s, beyond its %s memory limit (%s), so it would collect almost continuously",
				liveSum(in), mib(runtimeBase), mib(live), mib(runtimeBase), mib(2*live+runtimeBase), mib(limit), in.Memory.Source),
			Fix: fix}}
	}
	return nil
}

// memoryFix names the changes that bring twice the live data plus the
// runtime under limit: the buffer budget alone when that suffices, else the
// buffer, the fetch size and the producer's buffer each cut to a share, else
// a higher limit.
func memoryFix(in Input, limit int64) string {
	c := in.Config
	target := (limit - runtimeBase) / 2 // the live data that fits
	others := liveBytes(in) - c.Processor.Buffer.MaxBytes
	if fits := target - others; fits >= 1<<20 {
		return "processor.buffer.max_bytes=" + config.FormatBytes(fits>>20<<20)
	}
	if target < 4<<20 {
		return "deploy.memory_limit=" + config.FormatBytes((2*liveBytes(in)+runtimeBase+(1<<20-1))>>20<<20)
	}
	// Half for the buffer, a quarter each for one fetch and the producer.
	var fix []string
	fix = append(fix, "processor.buffer.max_bytes="+config.FormatBytes(target/2>>20<<20))
	if fetchInFlight(in) > target/4 {
		per := max(1<<10, target/4/int64(partitionsPerInstance(in))>>10<<10)
		fix = append(fix, "processor.fetch.max_partition_bytes="+config.FormatBytes(per))
	}
	if prod := int64(c.Producer.MaxBufferedRecords) * c.Deploy.RecordSize; prod > target/4 {
		fix = append(fix, "producer.max_buffered_records="+strconv.FormatInt(max(1, target/4/c.Deploy.RecordSize), 10))
	}
	return strings.Join(fix, " ")
}

// partitionBudget is the per-partition fetch size that keeps the fetch at a
// tenth of limit.
func partitionBudget(in Input, limit int64) int64 {
	return (limit / 10 / int64(partitionsPerInstance(in))) >> 10 << 10
}

// FetchMemory compares the fetch sizes times the partitions one instance
// owns with the memory limit: a fetch is held in memory whole, next to the
// buffered records.
func FetchMemory(in Input) []Finding {
	f := in.Config.Processor.Fetch
	var out []Finding
	if f.MaxPartitionBytes > f.MaxBytes {
		out = append(out, Finding{Check: "fetch", Severity: Info,
			Why: fmt.Sprintf("processor.fetch.max_partition_bytes (%s) exceeds processor.fetch.max_bytes (%s), so a single partition can fill a whole fetch",
				mib(f.MaxPartitionBytes), mib(f.MaxBytes)),
			Fix: "processor.fetch.max_partition_bytes=" + config.FormatBytes(f.MaxBytes)})
	}
	limit := in.Memory.Limit
	if limit == 0 {
		return out
	}
	inflight := fetchInFlight(in)
	if inflight*4 > limit {
		sev := Warn
		if inflight*2 > limit {
			sev = Error
		}
		out = append(out, Finding{Check: "fetch", Severity: sev,
			Why: fmt.Sprintf("one fetch may carry %s (%d partitions × %s, capped by fetch.max_bytes per broker), more than a quarter of the %s memory limit, on top of the buffered records",
				mib(inflight), partitionsPerInstance(in), mib(f.MaxPartitionBytes), mib(limit)),
			Fix: "processor.fetch.max_partition_bytes=" + config.FormatBytes(max(64<<10, partitionBudget(in, limit)))})
	}
	return out
}

// mib renders a byte count for a sentence.
func mib(n int64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%.0fGiB", float64(n)/(1<<30))
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 10<<20:
		return fmt.Sprintf("%.0fMiB", float64(n)/(1<<20))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
