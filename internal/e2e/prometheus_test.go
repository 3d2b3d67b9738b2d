package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/veltrix/veltrix/grafana/gen"
	"github.com/veltrix/veltrix/internal/tooltest"
)

// promAPI queries a Prometheus server's HTTP API.
type promAPI struct{ base string }

// get calls path with params and decodes the "data" of a successful answer
// into out; an error answer (a query that does not parse, say) is an error.
func (p promAPI) get(path string, params url.Values, out any) error {
	resp, err := http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("decoding %s answer %q: %w", path, tail(string(body), 200), err)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %s", env.Status, env.Error)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Data, out)
}

// series is one element of an instant vector answer.
type series struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query evaluates expr now and returns the series of the answer.
func (p promAPI) query(expr string) ([]series, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &d); err != nil {
		return nil, err
	}
	if d.ResultType == "scalar" {
		return []series{{}}, nil
	}
	var out []series
	err := json.Unmarshal(d.Result, &out)
	return out, err
}

// alert is one active alert.
type alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

func (p promAPI) alerts() ([]alert, error) {
	var d struct {
		Alerts []alert `json:"alerts"`
	}
	err := p.get("/api/v1/alerts", nil, &d)
	return d.Alerts, err
}

// rules returns every rule's name, health and last error.
func (p promAPI) rules() (map[string]string, error) {
	var d struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Query     string `json:"query"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get("/api/v1/rules", nil, &d); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, g := range d.Groups {
		for _, r := range g.Rules {
			out[r.Name] = r.Health + " " + r.LastError
		}
	}
	return out, nil
}

// ruleExprs reads the alert rules' expressions from alerts.yml.
func ruleExprs(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatalf("parsing alerts.yml: %v", err)
	}
	out := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out
}

// value evaluates expr, which must return one series, and returns its value.
func (p promAPI) value(t *testing.T, expr string) float64 {
	t.Helper()
	res, err := p.query(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	if len(res) != 1 {
		t.Fatalf("%s: %d series, want 1", expr, len(res))
	}
	v, err := strconv.ParseFloat(fmt.Sprint(res[0].Value[1]), 64)
	if err != nil {
		t.Fatalf("%s: value %v: %v", expr, res[0].Value[1], err)
	}
	return v
}

var forLine = regexp.MustCompile(`(?m)^(\s+for:) \S+$`)

// TestDashboardsAndAlertsOnRealPrometheus runs the pipeline — a broker, a
// demo with failing records, a lag exporter, and a separate producer and
// processor — under a real Prometheus that scrapes them every second and
// evaluates the real alert rules (with for: shortened). Every panel and
// variable query of every dashboard must return data and every rule must
// evaluate; then the processor stops while the producer goes on, and the
// lag alerts must fire.
func TestDashboardsAndAlertsOnRealPrometheus(t *testing.T) {
	promBin := tooltest.Need(t, "prometheus")
	bin := veltrixBinary(t)
	root := tooltest.Root(t)
	dir := t.TempDir()
	began := time.Now()

	// The pipeline. Every process monitors lag every second over a window
	// of four polls, and calls the cluster e2e.
	lagFlags := []string{"--lag.interval", "1s", "--lag.window", "4", "--lag.cluster", "e2e"}
	broker := start(t, "broker", bin, "broker", "--port", "0", "--topic", "e2e-demo", "--partitions", "4")
	brokers := await(t, broker, regexp.MustCompile(`listening on (\S+)`), 20*time.Second)
	demo := start(t, "demo", bin, append([]string{"demo", "--brokers", brokers, "--topic", "e2e-demo", "--partitions", "4",
		"--members", "2", "--rate", "500", "--metrics-addr", "127.0.0.1:0", "--processor.group.id", "e2e-demo",
		"--handler", "simulate", "--handler.simulate.failure_rate", "0.02", "--processor.on_failure", "dlq",
		"--processor.retry.initial_backoff", "1ms", "--processor.retry.max_backoff", "5ms"}, lagFlags...)...)
	lagExp := start(t, "lag", bin, append([]string{"lag", "--brokers", brokers, "--serve", "127.0.0.1:0"}, lagFlags...)...)
	prodAddr := freeAddr(t)
	producer := start(t, "produce", bin, "produce", "--brokers", brokers, "--topic", "e2e-alert", "--partitions", "2",
		"--rate", "300", "--metrics-addr", prodAddr)
	processor := start(t, "process", bin, append([]string{"process", "--brokers", brokers, "--topic", "e2e-alert", "--partitions", "2",
		"--group", "e2e-alert", "--metrics-addr", "127.0.0.1:0"}, lagFlags...)...)
	targets := map[string]string{
		"veltrix-demo":      metricsHostPort(t, awaitMetricsURL(t, demo)),
		"veltrix-lag":       metricsHostPort(t, awaitMetricsURL(t, lagExp)),
		"veltrix-producer":  prodAddr,
		"veltrix-processor": metricsHostPort(t, awaitMetricsURL(t, processor)),
	}
	_ = producer

	// The real rules, with every for: shortened to one second.
	rulesRaw, err := os.ReadFile(filepath.Join(root, "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), forLine.ReplaceAll(rulesRaw, []byte("$1 1s")), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	cfg.WriteString("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [alerts.yml]\nscrape_configs:\n")
	jobs := make([]string, 0, len(targets))
	for j := range targets {
		jobs = append(jobs, j)
	}
	sort.Strings(jobs)
	for _, j := range jobs {
		// The same cluster relabelling as prometheus/prometheus.yml.
		fmt.Fprintf(&cfg, "  - job_name: %s\n    static_configs: [{targets: [%q]}]\n"+
			"    metric_relabel_configs: [{source_labels: [cluster], regex: \"\", target_label: cluster, replacement: e2e}]\n", j, targets[j])
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	start(t, "prometheus", promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr, "--log.level=warn")
	api := promAPI{base: "http://" + promAddr}
	waitFor(t, "Prometheus to be ready", 20*time.Second, func() error {
		resp, err := http.Get(api.base + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})

	// Every dashboard query, as Grafana would send it with all variables
	// at All.
	type dq struct {
		where, expr, label string // label: a variable's label_values label
	}
	var queries []dq
	var files []string
	for _, b := range gen.Boards() {
		files = append(files, b.File)
		raw, err := os.ReadFile(filepath.Join(root, "grafana", "dashboards", b.File))
		if err != nil {
			t.Fatal(err)
		}
		qs, err := gen.Queries(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			var label string
			if strings.HasPrefix(q.Panel, "$") {
				label = q.Expr[strings.LastIndex(q.Expr, ",")+1 : len(q.Expr)-1]
				label = strings.TrimSpace(label)
			}
			queries = append(queries, dq{q.Dashboard + ": " + q.Panel + " " + q.RefID, gen.Concrete(q.Expr, "10s"), label})
		}
	}
	empty := map[string]string{}
	waitFor(t, "every dashboard query to return data", 60*time.Second, func() error {
		clear(empty)
		for _, q := range queries {
			res, err := api.query(q.expr)
			if err != nil {
				t.Fatalf("%s: %s: %v", q.where, q.expr, err) // does not parse: waiting will not help
			}
			withLabel := 0
			for _, s := range res {
				if q.label == "" || s.Metric[q.label] != "" {
					withLabel++
				}
			}
			if withLabel == 0 {
				empty[q.where] = q.expr
			}
		}
		if len(empty) > 0 {
			return fmt.Errorf("%d of %d queries return no data, e.g. %v", len(empty), len(queries), first(empty))
		}
		return nil
	})
	t.Logf("%d dashboard queries (%s) all returned data %.0fs after start", len(queries), strings.Join(files, ", "), time.Since(began).Seconds())

	// Every rule parses and evaluates, in the API and in the rule manager.
	exprs := ruleExprs(t, rulesRaw)
	for name, e := range exprs {
		if _, err := api.query(e); err != nil {
			t.Errorf("rule %s: %s: %v", name, e, err)
		}
	}
	waitFor(t, "the rule manager to load every rule", 10*time.Second, func() error {
		health, err := api.rules()
		if err != nil {
			return err
		}
		if len(health) != len(exprs) {
			return fmt.Errorf("%d rules loaded, alerts.yml has %d", len(health), len(exprs))
		}
		for name, h := range health {
			if strings.TrimSpace(h) != "ok" {
				return fmt.Errorf("rule %s: %s", name, h)
			}
		}
		return nil
	})
	t.Logf("%d alert rules evaluated without error", len(exprs))

	// The numbers behind the panels are the pipeline's, not just present.
	for _, c := range []struct {
		expr   string
		ok     func(float64) bool
		expect string
	}{
		{`sum(rate(veltrix_processed_records_total{topic="e2e-demo"}[10s]))`, func(v float64) bool { return v > 50 && v < 2000 }, "near the demo's 500/s"},
		{`sum(rate(veltrix_failed_records_total{topic="e2e-demo", outcome="dlq"}[10s]))`, func(v float64) bool { return v > 0 && v < 100 }, "about 2% of 500/s dead-lettered"},
		{`histogram_quantile(0.99, sum by (le) (rate(veltrix_end_to_end_latency_seconds_bucket{topic="e2e-demo"}[10s])))`, func(v float64) bool { return v > 0 && v < 5 }, "a finite end-to-end p99"},
		{`max(kafka_consumergroup_members{group="e2e-alert"})`, func(v float64) bool { return v == 1 }, "one member in the alert group"},
		{`count(max by (partition) (kafka_consumergroup_group_lag{group="e2e-demo"}))`, func(v float64) bool { return v == 4 }, "lag for each of the demo topic's 4 partitions"},
	} {
		// Polled for a while: one instant query can land where a loaded
		// machine's scrape gap leaves the window without two samples.
		var got string
		deadline := time.Now().Add(20 * time.Second)
		for {
			res, err := api.query(c.expr)
			if err == nil && len(res) == 1 {
				v, perr := strconv.ParseFloat(fmt.Sprint(res[0].Value[1]), 64)
				if perr == nil && c.ok(v) {
					got = ""
					break
				}
				got = fmt.Sprintf("%v", res[0].Value[1])
			} else {
				got = fmt.Sprintf("%d series (err %v)", len(res), err)
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if got != "" {
			t.Errorf("%s = %s for 20s, want %s", c.expr, got, c.expect)
		}
	}

	// A group with a member raises neither of the alerts about having none.
	// (Lag growing could fire here on a starved machine, and rightly so.)
	if as, err := api.alerts(); err == nil {
		for _, a := range as {
			if n := a.Labels["alertname"]; a.Labels["group"] == "e2e-alert" &&
				(n == "VeltrixConsumerGroupNoMembers" || n == "VeltrixConsumerGroupStopped") {
				t.Errorf("%s active before the consumers stopped", n)
			}
		}
	}

	// Stop the consumers; the producer goes on. The lag alerts must fire.
	stopped := time.Now()
	_, _ = processor.Term(12 * time.Second)
	want := map[string]bool{
		"VeltrixConsumerGroupNoMembers/e2e-alert": false,
		"VeltrixConsumerLagGrowing/e2e-alert":     false,
		"VeltrixConsumerGroupStopped/e2e-alert":   false,
		"VeltrixProcessorDown/":                   false,
		"VeltrixDeadLettering/":                   false,
	}
	waitFor(t, "the lag alerts to fire", 40*time.Second, func() error {
		as, err := api.alerts()
		if err != nil {
			return err
		}
		for _, a := range as {
			k := a.Labels["alertname"] + "/" + a.Labels["group"]
			if _, ok := want[k]; ok && a.State == "firing" {
				if !want[k] {
					t.Logf("%s firing %.1fs after the processor stopped", k, time.Since(stopped).Seconds())
				}
				want[k] = true
			}
		}
		var missing []string
		for k, ok := range want {
			if !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("not firing: %v", missing)
		}
		return nil
	})
	if v := api.value(t, `max(kafka_consumergroup_members{group="e2e-alert"})`); v != 0 {
		t.Errorf("members of the stopped group = %g, want 0", v)
	}
	if v := api.value(t, `max(kafka_consumergroup_group_status{group="e2e-alert"})`); v != 4 {
		t.Errorf("status of the stopped group = %g, want 4 (STOP)", v)
	}
	t.Logf("whole test %.0fs", time.Since(began).Seconds())
}

// waitFor retries f every 500 ms until it returns nil, failing the test
// with f's last error after d.
func waitFor(t *testing.T, what string, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %s for %s: %v", d, what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func first(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i == 5 {
			b.WriteString(" ...")
			break
		}
		fmt.Fprintf(&b, "\n  %s: %s", k, m[k])
	}
	return b.String()
}
