package bench

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/veltrix/veltrix/internal/config"
)

// Machine describes where a run happened.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	MemoryMiB  int64  `json:"memory_mib"`
	LoadBefore string `json:"load_before"` // /proc/loadavg's 1, 5 and 15 minute averages
	LoadAfter  string `json:"load_after"`
	Kernel     string `json:"kernel"`
}

// Versions are the software measured.
type Versions struct {
	Go      string `json:"go"`
	FranzGo string `json:"franz_go"`
	Kafka   string `json:"kafka"`
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), LoadBefore: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	m.MemoryMiB = meminfoMiB("MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// meminfoMiB is one field of /proc/meminfo (e.g. "MemTotal", "Dirty") in
// MiB, 0 when unknown.
func meminfoMiB(field string) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			return kib / 1024
		}
	}
	return 0
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

var franzLine = regexp.MustCompile(`(?m)^\s*github\.com/twmb/franz-go (v\S+)`)

// versions reads franz-go's from go.mod and Kafka's from the cached jars
// (KAFKA_VERSION, as scripts/kafka.sh does, else the jar on disk).
func versions(root string) Versions {
	v := Versions{Go: runtime.Version()}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err == nil {
		if m := franzLine.FindSubmatch(b); m != nil {
			v.FranzGo = string(m[1])
		}
	}
	v.Kafka = os.Getenv("KAFKA_VERSION")
	if v.Kafka == "" {
		home, _ := os.UserHomeDir()
		cache := os.Getenv("VELTRIX_CACHE")
		if cache == "" {
			cache = filepath.Join(home, ".cache", "veltrix")
		}
		jars, _ := filepath.Glob(filepath.Join(cache, "kafka-*", "lib", "kafka_2.13-*.jar"))
		for _, j := range jars {
			name := strings.TrimSuffix(filepath.Base(j), ".jar")
			if ver := strings.TrimPrefix(name, "kafka_2.13-"); !strings.ContainsAny(ver, "-") {
				v.Kafka = ver
			}
		}
	}
	return v
}

// settings lists what every subject ran with, for the report.
func settings(o Options) map[string]string {
	c := config.Default()
	p := c.Processor
	s := equalProduce
	return map[string]string{
		"partitions":     strconv.Itoa(partitions),
		"consume":        "drain a pre-filled topic from the start; records/s from the first hand-over to the last record (the first hand-over's records uncounted), so group joins are excluded; ConsumerPerformance: fetch.nMsg.sec",
		"fetch":          "fetch.max_wait " + p.Fetch.MaxWait.String() + ", fetch.max_bytes " + config.HumanBytes(p.Fetch.MaxBytes) + ", max_partition_bytes " + config.HumanBytes(p.Fetch.MaxPartitionBytes) + " (veltrix defaults = franz-go loop = ConsumerPerformance defaults)",
		"engine":         "veltrix defaults: batch.max_records " + strconv.Itoa(p.Batch.MaxRecords) + ", batch.max_wait " + p.Batch.MaxWait.String() + ", buffer.max_records " + strconv.Itoa(p.Buffer.MaxRecords) + ", buffer.max_bytes " + config.HumanBytes(p.Buffer.MaxBytes) + ", commit.interval " + p.Commit.Interval.String() + "; noop handler; metrics on",
		"franz-go":       "plain loop: PollFetches + EachRecord, franz-go default autocommit (every 5 s, of polled records)",
		"produce":        "acks=" + s.Acks + ", idempotent, linger " + s.Linger.String() + ", batch " + config.HumanBytes(s.BatchMaxBytes) + ", compression " + s.Compression + ", max buffered " + strconv.Itoa(s.MaxBuffered) + " records (franz-go), no keys; values of random letters (veltrix: its JSON event naming producer and sequence, no headers)",
		"latency":        "veltrix generator → one veltrix engine in one process at veltrix defaults (linger " + c.Producer.Linger.String() + ", " + c.Producer.Compression + ", acks=" + c.Producer.Acks + ", " + config.HumanBytes(c.Generate.Size) + " events, " + strconv.Itoa(c.Generate.Keys) + " keys); latency = handler call time − record timestamp (set at Produce); first " + o.Scale.LatencyWarmup.String() + " unmeasured",
		"sustained":      "a probe passes if the generator reaches 95% of the rate and the lag (acknowledged − handled, sampled each second) stays ≤ 1 s of events through the second half",
		"memory":         "`veltrix process` binary; VmHWM from /proc/<pid>/status",
		"drain":          "binaries in their own processes (plain loop: bench/cmd/plainconsume at veltrix's fetch defaults; `veltrix process --handler noop`, metrics on, at its defaults and with configs/high-throughput.yaml and configs/low-latency.yaml), broker in another; rate and CPU from the first observation of the group join done (all partitions assigned) to the first of every record handled, on each process's metrics endpoint (polled every 20 ms until the join, then at a quarter of the estimated time left, 2–200 ms); CPU = utime+stime from /proc/<pid>/stat (10 ms ticks)",
		"steady":         "the drain's loop and `veltrix process` at its defaults as processes, each in a fresh group on a fresh topic the harness feeds at a fixed rate once it owns every partition; CPU = utime+stime from /proc/<pid>/stat over the window after the warm-up, per million records handled",
		"produce-binary": "`veltrix produce` and bench/cmd/plainproduce as processes at the produce settings; rate and CPU from the first to the last observation of the topic's end offsets",
		"runs":           strconv.Itoa(o.Runs),
		"scale":          o.Scale.Name,
	}
}
