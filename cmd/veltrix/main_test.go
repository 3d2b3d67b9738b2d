package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// bin is the veltrix binary built once for these tests, so they exercise
// the real process: flags, exit codes, signals and output.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "veltrix-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "veltrix")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building veltrix: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// veltrix runs the binary with args and stdin, at most timeout.
func veltrix(t *testing.T, timeout time.Duration, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = kafkatest.CleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("veltrix %v did not finish within %s\nstderr: %s", args, timeout, r.stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
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

func TestNoBrokersConfigured(t *testing.T) {
	r := veltrix(t, 30*time.Second, "", "process", "--metrics-addr", "")
	if r.code != 1 || !strings.Contains(r.stderr, "no brokers configured") {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
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

var metricsURL = regexp.MustCompile(`metrics at (http://\S+/metrics)`)

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

		cmd := exec.Command(bin, "process", "--brokers", b, "--topic", topic, "--group", group,
			"--metrics-addr", "127.0.0.1:0", "--processor.group.session_timeout", "6s", "--processor.group.heartbeat_interval", "1s")
		cmd.Env = kafkatest.CleanEnv()
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill() }()
		sc := bufio.NewScanner(stderr)
		var url string
		for sc.Scan() {
			if m := metricsURL.FindStringSubmatch(sc.Text()); m != nil {
				url = m[1]
				break
			}
		}
		if url == "" {
			t.Fatal("process never printed its metrics URL")
		}
		rest := make(chan string, 1)
		go func() { b, _ := io.ReadAll(stderr); rest <- string(b) }()

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
		if m[`veltrix_partitions_assigned{group="`+group+`",topic="`+topic+`"}`] != 6 {
			t.Errorf("assigned partitions = %v, want 6", m[`veltrix_partitions_assigned{group="`+group+`",topic="`+topic+`"}`])
		}
		if !hasPrefix(m, "kafka_client_") {
			t.Error("no franz-go client metrics (kprom)")
		}

		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("process exited with %v after SIGTERM: %s", err, <-rest)
			}
		case <-time.After(40 * time.Second):
			t.Fatal("process did not exit within 40s of SIGTERM")
		}
		ctx := context.Background()
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
	cmd := exec.Command(bin, "broker", "--port", "0", "--topic", "dev", "--partitions", "3")
	cmd.Env = kafkatest.CleanEnv()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() {
		t.Fatal("broker printed nothing")
	}
	m := regexp.MustCompile(`listening on (\S+) `).FindStringSubmatch(sc.Text())
	if m == nil {
		t.Fatalf("unexpected first line %q", sc.Text())
	}
	r := veltrix(t, 60*time.Second, "", "produce", "--brokers", m[1], "--topic", "dev", "--topic.create=false", "--count", "100", "--json", "--metrics-addr", "")
	if r.code != 0 || !strings.Contains(r.stdout, `"acked":100`) {
		t.Fatalf("produce to veltrix broker: %d %s %s", r.code, r.stdout, r.stderr)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("broker exit after SIGINT: %v", err)
	}
}
