package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
)

// veltrixBin returns the veltrix binary, built once per test run, so these
// tests exercise the real process: flags, exit codes, signals and output.
func veltrixBin(t *testing.T) string {
	t.Helper()
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startVeltrix starts the binary with args; it is killed when the test
// ends, and its output logged when the test failed.
func startVeltrix(t *testing.T, args ...string) *child.Process {
	t.Helper()
	return startCmd(t, exec.Command(veltrixBin(t), args...))
}

// startCmd is startVeltrix for a command the caller prepared (its
// standard input, say).
func startCmd(t *testing.T, cmd *exec.Cmd) *child.Process {
	t.Helper()
	p, err := child.Start(strings.Join(cmd.Args[:min(len(cmd.Args), 2)], " "), cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- %s output (last 40 lines):\n%s", p.Name(), p.Tail(40))
		}
	})
	return p
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// veltrix runs the binary with args and stdin, at most timeout.
func veltrix(t *testing.T, timeout time.Duration, stdin string, args ...string) result {
	t.Helper()
	return veltrixRun(t, timeout, stdin, nil, args...)
}

// veltrixRun runs the binary with args, stdin and extra environment
// variables, at most timeout.
func veltrixRun(t *testing.T, timeout time.Duration, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(veltrixBin(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(child.Env(), env...)
	p := startCmd(t, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("veltrix %v did not finish within %s\nstderr: %s", args, timeout, p.Stderr())
	}
	return result{code: p.ExitCode(), stdout: p.Stdout(), stderr: p.Stderr(), took: p.ExitedAt().Sub(p.Started())}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	for path, body := range map[string]string{
		good: "processor:\n  batch:\n    max_records: 100\n",
		bad:  "processor:\n  batch:\n    max_records: -1\n  comit:\n    mode: batch\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	r := veltrix(t, 30*time.Second, "", "config", "validate", "--config", good)
	if r.code != 0 || !strings.Contains(r.stdout, "valid") {
		t.Fatalf("good config: %+v", r)
	}
	r = veltrix(t, 30*time.Second, "", "config", "validate", "--config", bad)
	if r.code != 2 {
		t.Fatalf("bad config: exit %d, want 2; %s", r.code, r.stderr)
	}
	for _, want := range []string{"processor.batch.max_records", `"-1"`, "file " + bad, "from 1 to 1000000", "processor.comit.mode", "unknown key", "did you mean processor.commit.mode?"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = veltrix(t, 30*time.Second, "", "config", "validate", "--processor.commit.interval", "500")
	if r.code != 2 || !strings.Contains(r.stderr, "flag --processor.commit.interval") {
		t.Fatalf("bad flag value: %+v", r)
	}
	r = veltrix(t, 30*time.Second, "", "process", "--no-such-flag")
	if r.code != 2 || !strings.Contains(r.stderr, "unknown flag") {
		t.Fatalf("unknown flag: %+v", r)
	}
}

func TestExampleConfigsValidate(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configs found")
	}
	for _, f := range files {
		if r := veltrix(t, 30*time.Second, "", "config", "validate", "--config", f); r.code != 0 {
			t.Errorf("%s: exit %d: %s", f, r.code, r.stderr)
		}
	}
}

func TestUnreachableBrokerFailsFast(t *testing.T) {
	r := veltrix(t, 30*time.Second, "", "produce", "--brokers", "127.0.0.1:1", "--kafka.connect_timeout", "2s", "--count", "1", "--metrics-addr", "")
	if r.code != 1 || !strings.Contains(r.stderr, "no broker answered at 127.0.0.1:1 within 2s") {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if r.took > 15*time.Second {
		t.Fatalf("took %s to report an unreachable broker", r.took)
	}
}

// TestSilentBrokerFailsFast covers a broker address that accepts
// connections and never answers: the worst case for a silent hang.
func TestSilentBrokerFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer func() { _ = c.Close() }() // hold it open, say nothing
		}
	}()
	r := veltrix(t, 60*time.Second, "", "process", "--brokers", ln.Addr().String(), "--kafka.connect_timeout", "3s", "--metrics-addr", "")
	if r.code != 1 || !strings.Contains(r.stderr, "no broker answered") || !strings.Contains(r.stderr, "within 3s") {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if r.took < 3*time.Second || r.took > 20*time.Second {
		t.Fatalf("took %s, want about the 3s connect timeout", r.took)
	}
}

func TestDemoEmbedded(t *testing.T) {
	r := veltrix(t, 90*time.Second, "", "demo", "--duration", "3s", "--rate", "2000", "--json", "--metrics-addr", "127.0.0.1:0")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var s map[string]float64
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("summary is not JSON: %v: %q", err, r.stdout)
	}
	for _, k := range []string{"produced", "processed", "lost", "duplicates", "max_lag", "e2e_p50_ms", "e2e_p99_ms"} {
		if _, ok := s[k]; !ok {
			t.Errorf("summary lacks %q", k)
		}
	}
	if s["produced"] < 4000 || s["lost"] != 0 || s["processed"] < s["produced"] {
		t.Fatalf("summary %v", s)
	}
	if !strings.Contains(r.stderr, "metrics at http://127.0.0.1:") || !strings.Contains(r.stderr, "produced") {
		t.Fatalf("no metrics URL or status lines: %s", r.stderr)
	}
}

func TestDemoRealBroker(t *testing.T) {
	brokers := kafkatest.Real(t)
	topic := kafkatest.Name(t, "demo")
	r := veltrix(t, 120*time.Second, "", "demo", "--brokers", strings.Join(brokers, ","), "--topic", topic, "--group", topic,
		"--duration", "5s", "--rate", "2000", "--json", "--metrics-addr", "127.0.0.1:0")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var s map[string]float64
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("summary is not JSON: %v: %q", err, r.stdout)
	}
	if s["produced"] < 8000 || s["lost"] != 0 || s["processed"] < s["produced"] {
		t.Fatalf("summary %v", s)
	}
}

func TestProduceBadInput(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		b := strings.Join(c.Brokers, ",")
		topic := kafkatest.Name(t, "in")
		r := veltrix(t, 60*time.Second, "", "produce", "--brokers", b, "--topic", topic, "--from", "-", "--metrics-addr", "")
		if r.code != 1 || !strings.Contains(r.stderr, "held no lines") {
			t.Fatalf("empty stdin: exit %d: %s", r.code, r.stderr)
		}
		r = veltrix(t, 60*time.Second, "", "produce", "--brokers", b, "--topic", kafkatest.Name(t, "missing"), "--topic.create=false", "--count", "1", "--metrics-addr", "")
		if r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
			t.Fatalf("missing topic: exit %d: %s", r.code, r.stderr)
		}
		r = veltrix(t, 60*time.Second, "a\nb\nc\n", "produce", "--brokers", b, "--topic", topic, "--from", "-", "--json", "--metrics-addr", "")
		if r.code != 0 || !strings.Contains(r.stdout, `"acked":3`) {
			t.Fatalf("three lines: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestProcessCommand runs veltrix process as a real process against each
// cluster, feeds it with veltrix produce, and checks its metrics, its
// readiness, its graceful shutdown on SIGTERM and its committed offsets.
func TestProcessCommand(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		const n = 5000
		b := strings.Join(c.Brokers, ",")
		topic, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "g")
		r := veltrix(t, 60*time.Second, "", "produce", "--brokers", b, "--topic", topic, "--count", fmt.Sprint(n), "--rate", "0", "--json", "--metrics-addr", "")
		if r.code != 0 {
			t.Fatalf("produce: %d %s", r.code, r.stderr)
		}

		p := startVeltrix(t, "process", "--brokers", b, "--topic", topic, "--group", group,
			"--metrics-addr", "127.0.0.1:0", "--processor.group.session_timeout", "6s", "--processor.group.heartbeat_interval", "1s")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		url, err := p.MetricsURL(ctx)
		if err != nil {
			t.Fatal(err)
		}

		kafkatest.Eventually(t, 60*time.Second, "all records processed", func() bool {
			return scrape(url)[`veltrix_processed_records_total{topic="`+topic+`"}`] == n
		})
		ready, err := http.Get(strings.TrimSuffix(url, "/metrics") + "/readyz")
		if err != nil || ready.StatusCode != 200 {
			t.Fatalf("readyz: %v %v", ready, err)
		}
		m := scrape(url)
		for _, series := range []string{
			`veltrix_partitions_assigned{group="` + group + `",topic="` + topic + `"}`,
			`veltrix_batch_records_count{topic="` + topic + `"}`,
			`veltrix_handler_duration_seconds_count{topic="` + topic + `"}`,
			`veltrix_end_to_end_latency_seconds_count{topic="` + topic + `"}`,
			`veltrix_commits_total{group="` + group + `"}`,
			`veltrix_rebalances_total{group="` + group + `",kind="assigned"}`,
			`veltrix_partition_lag_records{group="` + group + `",partition="0",topic="` + topic + `"}`,
		} {
			if _, ok := m[series]; !ok {
				t.Errorf("metrics lack %s", series)
			}
		}
		// deploy.gc_percent's default, unless the environment says GOGC.
		if _, set := os.LookupEnv("GOGC"); !set && m["go_gc_gogc_percent"] != 200 {
			t.Errorf("go_gc_gogc_percent = %v, want deploy.gc_percent's 200", m["go_gc_gogc_percent"])
		}
		if m[`veltrix_partitions_assigned{group="`+group+`",topic="`+topic+`"}`] != 6 {
			t.Errorf("assigned partitions = %v, want 6", m[`veltrix_partitions_assigned{group="`+group+`",topic="`+topic+`"}`])
		}
		if !hasPrefix(m, "kafka_client_") {
			t.Error("no franz-go client metrics (kprom)")
		}

		if _, err := p.Term(40 * time.Second); err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
		// stderr is no terminal here: no status lines.
		if strings.Contains(p.Stderr(), "processed ") || strings.Contains(p.Stderr(), "assignment:") {
			t.Errorf("status lines without a terminal:\n%s", p.Stderr())
		}
		adm := kafkatest.Admin(t, c.Brokers)
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, e := range ends.Offsets()[topic] {
			o, _ := offs.Lookup(topic, e.Partition)
			if o.At != e.At {
				t.Errorf("partition %d: committed %d, end %d", e.Partition, o.At, e.At)
			}
			total += e.At
		}
		if total != n {
			t.Errorf("end offsets sum to %d, want %d", total, n)
		}
	})
}

// scrape reads a /metrics page into series → value.
func scrape(url string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

func hasPrefix(m map[string]float64, p string) bool {
	for k := range m {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func TestBrokerCommand(t *testing.T) {
	p := startVeltrix(t, "broker", "--port", "0", "--topic", "dev", "--partitions", "3")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr, err := p.WaitOutput(ctx, regexp.MustCompile(`listening on (\S+) `))
	if err != nil {
		t.Fatal(err)
	}
	r := veltrix(t, 60*time.Second, "", "produce", "--brokers", addr, "--topic", "dev", "--topic.create=false", "--count", "100", "--json", "--metrics-addr", "")
	if r.code != 0 || !strings.Contains(r.stdout, `"acked":100`) {
		t.Fatalf("produce to veltrix broker: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil || p.Err() != nil {
		t.Fatalf("broker exit after SIGINT: %v %v", err, p.Err())
	}
}
