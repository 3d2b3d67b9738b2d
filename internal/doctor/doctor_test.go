package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/config"
)

// in builds an Input from the defaults changed by mod.
func in(mod func(c *config.Config), cl *Cluster, limit int64) Input {
	c := config.Default()
	if mod != nil {
		mod(&c)
	}
	return Input{Config: c, Cluster: cl, Memory: Memory{Limit: limit, Source: "test"}}
}

// want is one expected finding: its check, severity, a part of its why and
// its exact fix ("" to require none, "*" for any).
type want struct {
	check string
	sev   Severity
	why   string
	fix   string
}

// expect asserts that got holds exactly the wanted findings, in any order.
func expect(t *testing.T, got []Finding, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("got %d findings, want %d:\n%s", len(got), len(wants), dump(got))
		return
	}
	for _, w := range wants {
		found := false
		for _, f := range got {
			if f.Check == w.check && f.Severity == w.sev && strings.Contains(f.Why, w.why) && (w.fix == "*" || f.Fix == w.fix) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s %s finding with %q and fix %q in:\n%s", w.sev, w.check, w.why, w.fix, dump(got))
		}
	}
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + string(f.Severity) + " " + f.Check + ": " + f.Why + " [" + f.Fix + "]\n")
	}
	return b.String()
}

// cluster is a snapshot with one broker count and the given topics.
func cluster(brokers int, ts ...Topic) *Cluster {
	c := &Cluster{Brokers: brokers, Topics: map[string]Topic{}}
	for _, t := range ts {
		c.Topics[t.Name] = t
	}
	return c
}

// events is the default input topic as a healthy three-broker cluster has it.
func events(mod func(t *Topic)) Topic {
	t := Topic{Name: "events", Exists: true, Partitions: 6, ReplicationFactor: 3, MinInsyncReplicas: 2,
		RetentionMs: 7 * 24 * 3600 * 1000, RetentionBytes: -1, CleanupPolicy: "delete"}
	if mod != nil {
		mod(&t)
	}
	return t
}

func TestReadMemory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		deploy  int64
		limit   int64
		wantErr bool
	}{
		{"cgroup v2 limit", map[string]string{"memory.max": "536870912\n"}, 0, 512 << 20, false},
		{"cgroup v2 unlimited", map[string]string{"memory.max": "max\n"}, 0, 0, false},
		{"cgroup v1 limit", map[string]string{"memory/memory.limit_in_bytes": "268435456\n"}, 0, 256 << 20, false},
		{"cgroup v1 unlimited", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, 0, false},
		{"no cgroup", nil, 0, 0, false},
		{"setting wins", map[string]string{"memory.max": "536870912"}, 1 << 30, 1 << 30, false},
		{"garbage", map[string]string{"memory.max": "lots"}, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, err := ReadMemory(config.DeployConfig{MemoryLimit: tc.deploy}, root)
			if (err != nil) != tc.wantErr || m.Limit != tc.limit {
				t.Fatalf("got %+v, %v; want limit %d, error %v", m, err, tc.limit, tc.wantErr)
			}
			if m.Limit > 0 && m.Source == "" {
				t.Error("limit without a source")
			}
		})
	}
}

func TestTopicExists(t *testing.T) {
	noCreate := func(c *config.Config) { c.Topic.Create = false }
	forward := func(c *config.Config) {
		c.Topic.Create = false
		c.Handler.Name, c.Handler.OutputTopic = "forward", "out"
	}
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		cl    *Cluster
		wants []want
	}{
		{"no brokers", nil, nil, []want{{"cluster", Info, "no brokers given", "kafka.brokers=<host:port>"}}},
		{"exists", nil, cluster(3, events(nil)), nil},
		{"missing, no create", noCreate, cluster(3), []want{{"topic", Error, "topic events does not exist and topic.create=false", "topic.create=true"}}},
		{"missing, created", nil, cluster(3), []want{{"topic", Info, "will create it with topic.partitions=6", ""}}},
		{"other partition count", nil, cluster(3, events(func(t *Topic) { t.Partitions = 12 })), []want{{"topic", Info, "has 12 partitions; topic.partitions=6", ""}}},
		{"forward output missing", forward, cluster(3, events(nil)), []want{{"topic", Error, "topic out does not exist", "topic.create=true"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, TopicExists(in(tc.mod, tc.cl, 0)), tc.wants...) })
	}
}

func TestPartitions(t *testing.T) {
	deploy := func(n, maxN int) func(*config.Config) {
		return func(c *config.Config) { c.Deploy.Instances, c.Deploy.MaxInstances = n, maxN }
	}
	four := cluster(3, events(func(t *Topic) { t.Partitions = 4 }))
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		cl    *Cluster
		wants []want
	}{
		{"fits", deploy(3, 6), nil, nil},
		{"more instances than partitions, created topic", deploy(8, 0), nil,
			[]want{{"partitions", Warn, "deploy.instances=8 but topic.partitions=6 creates 6 partitions: 2 instances will sit idle", "topic.partitions=8"}}},
		{"more instances than partitions, live topic", deploy(6, 0), four,
			[]want{{"partitions", Warn, "topic events has 4 partitions: 2 instances will sit idle", "deploy.instances=4"}}},
		{"autoscaler beyond partitions", deploy(2, 12), nil,
			[]want{{"autoscaler", Warn, "deploy.max_instances=12 but topic.partitions=6 creates 6", "topic.partitions=12"}}},
		{"autoscaler beyond live partitions", deploy(2, 12), four,
			[]want{{"autoscaler", Warn, "instances beyond 4 get nothing", "deploy.max_instances=4"}}},
		{"autoscaler below planned", deploy(3, 2), nil,
			[]want{{"autoscaler", Warn, "is below deploy.instances=3", "deploy.max_instances=3"}}},
		{"uneven", deploy(4, 0), nil, []want{{"partitions", Info, "some own 2 partitions and some 1, so the busiest carries 33% more", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, Partitions(in(tc.mod, tc.cl, 0)), tc.wants...) })
	}
}

func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		wants []want
	}{
		{"defaults", nil, []want{{"timeouts", Info, "drain_timeout=10s (handler.timeout allows 30s)", ""}}},
		{"aligned", func(c *config.Config) { c.Processor.HandlerTimeout = 5 * time.Second }, nil},
		{"drain reaches rebalance", func(c *config.Config) {
			c.Processor.HandlerTimeout = time.Second
			c.Processor.Rebalance.DrainTimeout = time.Minute
			c.Processor.ShutdownTimeout = time.Minute
		}, []want{{"timeouts", Error, "drain_timeout=1m for", "processor.rebalance.drain_timeout=30s"}}},
		{"handler outlasts rebalance", func(c *config.Config) { c.Processor.HandlerTimeout = 2 * time.Minute },
			[]want{{"timeouts", Warn, "handler.timeout=2m, not less than processor.group.rebalance_timeout=1m:", "handler.timeout=10s"}}},
		{"short shutdown", func(c *config.Config) {
			c.Processor.HandlerTimeout = time.Second
			c.Processor.ShutdownTimeout = 2 * time.Second
		}, []want{{"timeouts", Info, "shutdown_timeout=2s is shorter", "processor.shutdown_timeout=10s"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, Timeouts(in(tc.mod, nil, 0)), tc.wants...) })
	}
}

func TestBatchDuration(t *testing.T) {
	sim := func(rec, batch time.Duration) func(*config.Config) {
		return func(c *config.Config) {
			c.Handler.Name = "simulate"
			c.Handler.Simulate.RecordDelay, c.Handler.Simulate.BatchDelay = rec, batch
		}
	}
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		wants []want
	}{
		{"noop has no known cost", nil, nil},
		{"fast simulate", sim(10*time.Millisecond, 0), nil},
		{"batch outlasts handler timeout", sim(100*time.Millisecond, 0),
			[]want{{"batch", Error, "500 records takes about 50s, not less than handler.timeout=30s", "processor.batch.max_records=150"}}},
		{"batch outlasts drain", sim(30*time.Millisecond, 0),
			[]want{{"batch", Warn, "takes about 15s, longer than processor.rebalance.drain_timeout=10s", "processor.batch.max_records=166"}}},
		{"per-batch delay alone too long", sim(0, 40*time.Second),
			[]want{{"batch", Error, "takes about 40s", "handler.timeout=1m20s"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, BatchDuration(in(tc.mod, nil, 0)), tc.wants...) })
	}
}

func TestBufferMemory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		limit int64
		wants []want
	}{
		{"no limit", nil, 0, []want{{"memory", Info, "no memory limit is known", "deploy.memory_limit=1GiB"}}},
		{"plenty", nil, 1 << 30, nil},
		// 64MiB buffer + 6MiB fetch + 10000 × 1KiB producer buffer ≈ 80MiB live.
		{"heap may double past the limit", nil, 160 << 20,
			[]want{{"memory", Warn, "needs room for as much again", "processor.buffer.max_bytes=48MiB"}}},
		{"live data beyond the limit", nil, 96 << 20,
			[]want{{"memory", Error, "64MiB + one fetch 6.0MiB + producer buffer 10000 × 1KiB (9.8MiB) = 80MiB of records + the Go runtime and clients (about 32MiB) = 112MiB, at least its 96MiB memory limit (test): it will be OOM-killed", "processor.buffer.max_bytes=16MiB"}}},
		{"nothing left for the buffer", func(c *config.Config) { c.Processor.Fetch.MaxPartitionBytes = 8 << 20 }, 96 << 20,
			[]want{{"memory", Error, "OOM-killed", "processor.buffer.max_bytes=16MiB processor.fetch.max_partition_bytes=1365KiB producer.max_buffered_records=8192"}}},
		{"limit below the runtime", nil, 36 << 20,
			[]want{{"memory", Error, "OOM-killed", "deploy.memory_limit=192MiB"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, BufferMemory(in(tc.mod, nil, tc.limit)), tc.wants...) })
	}
}

func TestFetchMemory(t *testing.T) {
	many := func(c *config.Config) { c.Topic.Partitions = 100 }
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		limit int64
		wants []want
	}{
		{"defaults", nil, 1 << 30, nil},
		{"no limit", many, 0, nil},
		{"many partitions, small limit", many, 128 << 20,
			[]want{{"fetch", Warn, "one fetch may carry 50MiB (100 partitions × 1.0MiB", "processor.fetch.max_partition_bytes=131KiB"}}},
		{"fetch above half the limit", many, 64 << 20,
			[]want{{"fetch", Error, "50MiB", "processor.fetch.max_partition_bytes=65KiB"}}},
		{"partition bytes above fetch bytes", func(c *config.Config) { c.Processor.Fetch.MaxPartitionBytes = 100 << 20 }, 0,
			[]want{{"fetch", Info, "can fill a whole fetch", "processor.fetch.max_partition_bytes=50MiB"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, FetchMemory(in(tc.mod, nil, tc.limit)), tc.wants...) })
	}
}

func TestCommitDuplicates(t *testing.T) {
	rate := func(r float64, n int) func(*config.Config) {
		return func(c *config.Config) { c.Deploy.ExpectedRate, c.Deploy.Instances = r, n }
	}
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		wants []want
	}{
		{"manual", func(c *config.Config) { c.Processor.Commit.Mode = "manual" }, []want{{"commit", Info, "cannot bound", ""}}},
		{"batch", func(c *config.Config) { c.Processor.Commit.Mode = "batch" }, []want{{"commit", Info, "up to 3000 records per instance", ""}}},
		{"rate unknown", nil, []want{{"commit", Info, "interval=1s of an instance's work", "deploy.expected_rate=<events/s>"}}},
		// 1000/s × 1s + 6 partitions × 500 in flight.
		{"small", rate(1000, 1), []want{{"commit", Info, "about 4000 records twice (4000 if every", ""}}},
		{"large", rate(400000, 2), []want{{"commit", Warn, "about 201500 records twice (1s × 200000/s = 200000, plus 1500 in flight), more than the 100000 doctor allows", "processor.commit.interval=490ms"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, CommitDuplicates(in(tc.mod, nil, 0)), tc.wants...) })
	}
}

func TestDurability(t *testing.T) {
	topic := func(rf, isr int) *Cluster {
		return cluster(3, events(func(t *Topic) { t.ReplicationFactor, t.MinInsyncReplicas = rf, isr }))
	}
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		cl    *Cluster
		wants []want
	}{
		{"defaults, no cluster", nil, nil, nil},
		{"healthy topic", nil, topic(3, 2), nil},
		{"acks leader", func(c *config.Config) { c.Producer.Acks, c.Producer.Idempotent = "leader", false }, nil,
			[]want{{"durability", Warn, "producer.acks=leader", "producer.acks=all"}}},
		{"not idempotent", func(c *config.Config) { c.Producer.Idempotent = false }, nil,
			[]want{{"durability", Warn, "write an event twice", "producer.idempotent=true"}}},
		{"creates single replicas", func(c *config.Config) { c.Topic.ReplicationFactor = 1 }, nil,
			[]want{{"durability", Warn, "single copy", "topic.replication_factor=3"}}},
		{"min isr above replicas", nil, topic(2, 3), []want{{"durability", Error, "NOT_ENOUGH_REPLICAS", "min.insync.replicas=1"}}},
		{"one replica, one broker", nil, cluster(1, events(func(t *Topic) { t.ReplicationFactor, t.MinInsyncReplicas = 1, 1 })),
			[]want{{"durability", Info, "fine for development", ""}}},
		{"one replica, three brokers", nil, topic(1, 1), []want{{"durability", Error, "single replica on a 3-broker cluster", "replication.factor=3: reassign each of its 6 partitions to 3 brokers (kafka-reassign-partitions --execute with a plan listing 3 replicas per partition), then min.insync.replicas=2 (kafka-configs --alter --entity-type topics --entity-name events --add-config min.insync.replicas=2)"}}},
		{"below min isr now", nil, cluster(3, events(func(t *Topic) { t.ReplicationFactor, t.MinInsyncReplicas, t.InSync = 3, 2, 1 })),
			[]want{{"durability", Error, "fewer than min.insync.replicas=2: every acks=all write to it fails with NOT_ENOUGH_REPLICAS", "start the brokers that hold its other replicas, or wait until they catch up"}}},
		{"min isr one", nil, topic(3, 1), []want{{"durability", Warn, "min.insync.replicas=1", "min.insync.replicas=2"}}},
		{"min isr equals replicas", nil, topic(3, 3), []want{{"durability", Warn, "one broker down stops every acks=all write", "min.insync.replicas=2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, Durability(in(tc.mod, tc.cl, 0)), tc.wants...) })
	}
}

func TestLatency(t *testing.T) {
	target := func(p99, linger, wait time.Duration) func(*config.Config) {
		return func(c *config.Config) {
			c.Deploy.P99Target, c.Producer.Linger, c.Processor.Batch.MaxWait = p99, linger, wait
		}
	}
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		wants []want
	}{
		{"no target", target(0, time.Second, time.Second), nil},
		{"defaults meet 50ms", target(50*time.Millisecond, time.Millisecond, 0), nil},
		{"linger reaches target", target(10*time.Millisecond, 10*time.Millisecond, 0),
			[]want{{"latency", Error, "producer.linger=10ms alone", "producer.linger=500µs"}}},
		{"batch wait reaches target", target(10*time.Millisecond, time.Millisecond, 20*time.Millisecond),
			[]want{{"latency", Error, "reach deploy.p99_target=10ms", "processor.batch.max_wait=0s"}}},
		{"linger uses half", target(10*time.Millisecond, 6*time.Millisecond, 0),
			[]want{{"latency", Warn, "more than half", "producer.linger=500µs"}}},
		{"slow batches", func(c *config.Config) {
			target(100*time.Millisecond, time.Millisecond, 0)(c)
			c.Handler.Name, c.Handler.Simulate.RecordDelay = "simulate", time.Millisecond
		}, []want{{"latency", Error, "a full batch's handling (500ms)", "processor.batch.max_records=25"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, Latency(in(tc.mod, nil, 0)), tc.wants...) })
	}
}

func TestRetention(t *testing.T) {
	rate := func(c *config.Config) { c.Deploy.ExpectedRate = 10000 }
	with := func(mod func(*Topic)) *Cluster { return cluster(3, events(mod)) }
	for _, tc := range []struct {
		name  string
		mod   func(*config.Config)
		cl    *Cluster
		wants []want
	}{
		{"no cluster", rate, nil, nil},
		{"a week", rate, with(nil), []want{{"retention", Info, "can stay down 7d (a lag of about 6048000000 events)", ""}}},
		{"an hour", nil, with(func(t *Topic) { t.RetentionMs = 3600_000 }),
			[]want{{"retention", Warn, "after 1h because of its retention.ms, less than deploy.outage_tolerance=24h", "retention.ms=172800000"}}},
		{"forever", rate, with(func(t *Topic) { t.RetentionMs = -1 }), nil},
		{"bytes without rate", nil, with(func(t *Topic) { t.RetentionBytes = 1 << 30 }),
			[]want{{"retention", Info, "retention.bytes=1073741824", "deploy.expected_rate=<events/s>"}}},
		// 10000/s × 1KiB over 6 partitions fills 1GiB per partition in 629s.
		{"bytes bind first", rate, with(func(t *Topic) { t.RetentionBytes = 1 << 30 }),
			[]want{{"retention", Warn, "after 10m29s (a lag of about 6291456 events) because of its retention.bytes", "retention.bytes=294912000000"}}},
		{"compacted", rate, with(func(t *Topic) { t.CleanupPolicy = "compact" }), []want{{"retention", Info, "compacted", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, Retention(in(tc.mod, tc.cl, 0)), tc.wants...) })
	}
}

func TestRunOrdersBySeverity(t *testing.T) {
	fs := Run(in(func(c *config.Config) {
		c.Topic.Create = false
		c.Deploy.Instances = 8
	}, cluster(3), 1<<30))
	if !HasErrors(fs) || fs[0].Severity != Error {
		t.Fatalf("want an error first:\n%s", dump(fs))
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].Severity.rank() < fs[i-1].Severity.rank() {
			t.Fatalf("not ordered by severity:\n%s", dump(fs))
		}
	}
	if HasErrors(Run(in(nil, cluster(3, events(nil)), 1<<30))) {
		t.Fatal("the defaults on a healthy cluster have errors")
	}
}
