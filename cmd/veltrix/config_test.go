package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

func TestConfigExplain(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("processor:\n  buffer:\n    max_bytes: 10MB\n  fetch:\n    max_bytes: 10MiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := veltrix(t, 30*time.Second, "", "config", "explain", "--config", file, "--handler.timeout", "5s", "processor.", "handler.timeout")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"processor.buffer.max_bytes", "10000000 B (9.54MiB)", "file " + file,
		"10485760 B (10MiB)", "flag --handler.timeout", "processor.batch.max_records",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "kafka.brokers") {
		t.Errorf("prefix filter ignored:\n%s", r.stdout)
	}

	r = veltrix(t, 30*time.Second, "", "config", "explain", "--json", "--changed")
	var out struct {
		Settings []map[string]any `json:"settings"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("exit %d, not JSON: %q %s", r.code, r.stdout, r.stderr)
	}
	if len(out.Settings) != 0 {
		t.Errorf("--changed with nothing changed listed %v", out.Settings)
	}

	cmd := []string{"config", "explain", "--json", "processor.batch.max_records"}
	r = veltrixEnv(t, []string{"VELTRIX_PROCESSOR_BATCH_MAX_RECORDS=42"}, cmd...)
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Settings) != 1 {
		t.Fatalf("exit %d: %q %s", r.code, r.stdout, r.stderr)
	}
	if s := out.Settings[0]; s["value"] != "42" || s["source"] != "env" || s["from"] != "VELTRIX_PROCESSOR_BATCH_MAX_RECORDS" {
		t.Errorf("env entry = %v", s)
	}

	// Several input topics: the default topic.name has no effect.
	r = veltrix(t, 30*time.Second, "", "config", "explain", "--topic.names", "orders,payments", "topic.")
	if !regexp.MustCompile(`topic\.name +events +default; unused: topic\.names is set\n`).MatchString(r.stdout) {
		t.Errorf("explain does not mark topic.name unused:\n%s", r.stdout)
	}
	r = veltrix(t, 30*time.Second, "", "config", "explain", "topic.name")
	if strings.Contains(r.stdout, "unused") {
		t.Errorf("explain marks a used topic.name unused:\n%s", r.stdout)
	}
}

// veltrixEnv runs the binary like veltrix, with extra environment variables.
func veltrixEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return veltrixRun(t, 30*time.Second, "", env, args...)
}

func TestConfigDoctor(t *testing.T) {
	roomy, tight := t.TempDir(), t.TempDir()
	for dir, limit := range map[string]string{roomy: "max\n", tight: "67108864\n"} {
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(limit), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	r := veltrix(t, 30*time.Second, "", "config", "doctor", "--cgroup-root", roomy)
	if r.code != 0 || !strings.Contains(r.stdout, "doctor: 0 errors") || !strings.Contains(r.stdout, "no brokers given") {
		t.Fatalf("defaults: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	// A 64MiB container cannot hold the default 64MiB buffer.
	r = veltrix(t, 30*time.Second, "", "config", "doctor", "--cgroup-root", tight, "--json")
	var rep struct {
		Findings []struct{ Check, Severity, Why, Fix string }
		Errors   int
	}
	if r.code != 3 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("tight memory: exit %d, want 3: %q %s", r.code, r.stdout, r.stderr)
	}
	if rep.Errors != 1 || rep.Findings[0].Check != "memory" || !strings.Contains(rep.Findings[0].Why, tight) ||
		!strings.HasPrefix(rep.Findings[0].Fix, "processor.buffer.max_bytes=") {
		t.Errorf("findings %+v", rep)
	}
	// Applying the suggested change as flags clears the error.
	args := []string{"config", "doctor", "--cgroup-root", tight}
	for _, kv := range strings.Fields(rep.Findings[0].Fix) {
		args = append(args, "--"+kv)
	}
	r = veltrix(t, 30*time.Second, "", args...)
	if r.code != 0 {
		t.Errorf("the suggested fix %q did not clear the error: exit %d: %s", rep.Findings[0].Fix, r.code, r.stdout)
	}
	r = veltrix(t, 30*time.Second, "", "config", "doctor", "--processor.rebalance.drain_timeout", "bad")
	if r.code != 2 {
		t.Errorf("invalid config: exit %d, want 2", r.code)
	}
}

func TestConfigDoctorLive(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		b := strings.Join(c.Brokers, ",")
		topic := kafkatest.Name(t, "doc")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		r := veltrix(t, 60*time.Second, "", "config", "doctor", "--brokers", b, "--topic", kafkatest.Name(t, "missing"), "--topic.create=false", "--deploy.memory_limit", "1GiB")
		if r.code != 3 || !strings.Contains(r.stdout, "does not exist and topic.create=false") || !strings.Contains(r.stdout, "fix: topic.create=true") {
			t.Fatalf("missing topic: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		r = veltrix(t, 60*time.Second, "", "config", "doctor", "--brokers", b, "--topic", topic, "--deploy.instances", "3", "--deploy.memory_limit", "1GiB", "--json")
		var rep struct {
			Cluster  bool
			Findings []struct{ Check, Severity, Fix string }
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || !rep.Cluster {
			t.Fatalf("existing topic: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		found := false
		for _, f := range rep.Findings {
			found = found || f.Check == "partitions" && f.Severity == "warn" && f.Fix == "deploy.instances=2"
		}
		if !found {
			t.Errorf("no idle-consumer warning for 3 instances on 2 partitions: %+v", rep.Findings)
		}
	})
}

func TestPlan(t *testing.T) {
	type report struct {
		Instance, Partition *struct{ Rate float64 }
		Plan                struct {
			Partitions   int      `json:"partitions"`
			Instances    int      `json:"instances"`
			MaxInstances int      `json:"max_instances"`
			Changes      []string `json:"changes"`
		}
	}
	// Given numbers: 5600/s at 1000/s per instance needs 8 instances at 70%.
	r := veltrix(t, 30*time.Second, "", "plan", "--rate", "5600", "--per-instance", "1000", "--json")
	var rep report
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("exit %d: %q %s", r.code, r.stdout, r.stderr)
	}
	if p := rep.Plan; p.Instances != 8 || p.Partitions != 16 || p.MaxInstances != 16 || len(p.Changes) == 0 || rep.Instance != nil {
		t.Errorf("plan %+v", rep)
	}
	// Measured: a 1ms-a-record handler in 10-record batches; one lane
	// handles at most 1000 records/s, so 3000/s at 70% needs 5 partitions.
	r = veltrix(t, 60*time.Second, "", "plan", "--rate", "3000", "--measure", "1s", "--topic.partitions", "2", "--json",
		"--handler", "simulate", "--handler.simulate.record_delay", "1ms", "--processor.batch.max_records", "10")
	rep = report{}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Instance == nil || rep.Partition == nil {
		t.Fatalf("measured plan: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	lane, inst := rep.Partition.Rate, rep.Instance.Rate
	if lane < 600 || lane > 1010 || inst < 1.5*lane || inst > 2020 {
		t.Errorf("measured one lane %.0f/s and one instance (2 lanes) %.0f/s; want about 1000 and 2000", lane, inst)
	}
	if p := rep.Plan; p.Partitions < int(3000/(lane*0.7))+1 || p.Instances > p.Partitions || p.Instances < 2 {
		t.Errorf("plan %+v for lane %.0f/s, instance %.0f/s", p, lane, inst)
	}
	r = veltrix(t, 30*time.Second, "", "plan")
	if r.code != 2 || !strings.Contains(r.stderr, "needs a target rate") {
		t.Errorf("no rate: exit %d: %s", r.code, r.stderr)
	}
}

// TestBadInput covers the mistakes people make with configuration: each
// gets one clear message naming the key, exit code 2, and never a panic.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"typo in a file", []string{"--config", file("typo.yaml", "processor:\n  batch:\n    max_recrods: 10\n")},
			nil, []string{"processor.batch.max_recrods", "unknown key", "did you mean processor.batch.max_records?"}},
		{"leaf under the wrong section", []string{"--config", file("leaf.yaml", "processor:\n  max_records: 10\n")},
			nil, []string{"processor.max_records", "did you mean processor.batch.max_records?"}},
		{"bare number for a duration", []string{"--config", file("unit.yaml", "producer:\n  linger: 500\n")},
			nil, []string{`producer.linger = "500"`, "want a duration with a unit such as 250ms"}},
		{"bare number for a duration in env", nil, []string{"VELTRIX_HANDLER_TIMEOUT=30"},
			[]string{"handler.timeout", "env VELTRIX_HANDLER_TIMEOUT", "want a duration with a unit"}},
		{"unknown size unit", []string{"--processor.buffer.max_bytes", "10MB2"},
			nil, []string{"processor.buffer.max_bytes", "flag --processor.buffer.max_bytes", "want a size such as 512B, 64KiB, 10MiB or 1GB"}},
		{"negative size", []string{"--config", file("neg.yaml", "processor:\n  buffer:\n    max_bytes: -64MiB\n")},
			nil, []string{"processor.buffer.max_bytes", `"-64MiB"`, "from 1KiB to 64GiB"}},
		{"negative count", []string{"--processor.batch.max_records=-5"},
			nil, []string{"processor.batch.max_records", "from 1 to 1000000"}},
		{"idempotence with acks=leader", []string{"--producer.acks", "leader"},
			nil, []string{"producer.acks", "idempotent writes require acks=all"}},
		{"dead letters into the output", []string{"--handler", "forward", "--output-topic", "out", "--processor.on_failure", "dlq", "--processor.dlq_topic", "out"},
			nil, []string{"processor.dlq_topic", "must differ from handler.output_topic"}},
		{"dead letters into the input", []string{"--processor.on_failure", "dlq", "--processor.dlq_topic", "events"},
			nil, []string{"processor.dlq_topic", "must differ from topic.name"}},
		{"forward without output", []string{"--handler", "forward"},
			nil, []string{"handler.output_topic", "needs an output topic"}},
		{"file is a directory", []string{"--config", dir},
			nil, []string{"--config", "cannot read file", "is a directory"}},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")},
			nil, []string{"file does not exist"}},
		{"yaml syntax error", []string{"--config", file("syntax.yaml", "processor:\n  batch:\n    max_records: 10\n  commit: [mode\n")},
			// yaml.v3 reports where the unclosed construct's context is, which
			// can be a line above the one that is wrong; any line number helps.
			nil, []string{"not valid YAML", "line "}},
		{"yaml tab indentation", []string{"--config", file("tabs.yaml", "processor:\n\tbatch: 1\n")},
			nil, []string{"not valid YAML", "line 2"}},
		{"section given a value", []string{"--config", file("scalar.yaml", "processor: 5\n")},
			nil, []string{"processor", "unknown key"}},
		{"list for a number", []string{"--config", file("list.yaml", "processor:\n  batch:\n    max_records: [1, 2]\n")},
			nil, []string{"processor.batch.max_records", "want a whole number"}},
		{"bad regular expression", []string{"--lag.groups", "orders-(["},
			nil, []string{`lag.groups = "orders-(["`, "flag --lag.groups", "want a regular expression", "missing closing ]"}},
		{"bad regular expression in env", nil, []string{"VELTRIX_LAG_GROUPS=a(b"},
			[]string{`lag.groups = "a(b"`, "env VELTRIX_LAG_GROUPS", "want a regular expression", "missing closing )"}},
		{"env var matching no key", nil, []string{"VELTRIX_PROCESSOR_BATCH_MAXRECORDS=5"},
			[]string{"VELTRIX_PROCESSOR_BATCH_MAXRECORDS", "no setting has this environment variable", "did you mean VELTRIX_PROCESSOR_BATCH_MAX_RECORDS?"}},
		{"several at once", []string{"--config", file("many.yaml", "producer:\n  linger: 5\nprocessor:\n  batch:\n    max_records: 0\n")},
			[]string{"VELTRIX_BOGUS=1"}, []string{"3 problems", "producer.linger", "processor.batch.max_records", "VELTRIX_BOGUS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sub := range []string{"validate", "explain", "doctor"} {
				r := veltrixEnv(t, tc.env, append([]string{"config", sub}, tc.args...)...)
				if r.code != 2 {
					t.Errorf("config %s: exit %d, want 2: %s", sub, r.code, r.stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("config %s: stderr lacks %q:\n%s", sub, w, r.stderr)
					}
				}
				if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
					t.Errorf("config %s: a stack trace:\n%s", sub, r.stderr)
				}
			}
		})
	}
}

func TestSizeUnitsDiffer(t *testing.T) {
	r := veltrix(t, 30*time.Second, "", "config", "explain", "--json", "processor.buffer.max_bytes", "--processor.buffer.max_bytes", "10MB")
	var out struct{ Settings []struct{ Bytes int64 } }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Settings) != 1 || out.Settings[0].Bytes != 10_000_000 {
		t.Fatalf("10MB: exit %d: %s", r.code, r.stdout)
	}
	r = veltrix(t, 30*time.Second, "", "config", "explain", "--json", "processor.buffer.max_bytes", "--processor.buffer.max_bytes", "10MiB")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Settings[0].Bytes != 10<<20 {
		t.Fatalf("10MiB: exit %d: %s", r.code, r.stdout)
	}
}

// TestPlanLiveTopic plans for an existing topic with too few partitions:
// the plan adds partitions rather than instances that would sit idle.
func TestPlanLiveTopic(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "plan")
		kafkatest.CreateTopic(t, c.Brokers, topic, 4)
		r := veltrix(t, 60*time.Second, "", "plan", "--brokers", strings.Join(c.Brokers, ","), "--topic", topic,
			"--rate", "5600", "--per-instance", "1000")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{"partitions   16", "instances    8", "the topic has 4 partitions but the rate needs at least 8"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("plan lacks %q:\n%s", want, r.stdout)
			}
		}
	})
}

// TestPlanTopicErrorIsNotMissingTopic is the regression test for defect 14:
// plan took any error the cluster gave for the topic as "no topic" and
// planned a new one. Only UNKNOWN_TOPIC_OR_PARTITION means missing; any
// other error fails the command, naming the topic and the error.
func TestPlanTopicErrorIsNotMissingTopic(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.LeaderNotAvailable, kerr.TopicAuthorizationFailed} {
		t.Run(e.Message, func(t *testing.T) {
			c := kafkatest.Fake(t)
			topic := kafkatest.Name(t, "plan")
			kafkatest.CreateTopic(t, c.ListenAddrs(), topic, 4)
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: e, Count: -1})
			r := veltrix(t, 60*time.Second, "", "plan", "--brokers", strings.Join(c.ListenAddrs(), ","), "--topic", topic,
				"--rate", "5600", "--per-instance", "1000")
			if r.code != 1 || !strings.Contains(r.stderr, topic) || !strings.Contains(r.stderr, e.Message) {
				t.Fatalf("exit %d, want 1 with an error naming %s and %s:\nstdout: %s\nstderr: %s", r.code, topic, e.Message, r.stdout, r.stderr)
			}
			t.Logf("stderr: %s", r.stderr)
		})
	}
}
