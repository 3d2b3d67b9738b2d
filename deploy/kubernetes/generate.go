package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Profile is a configuration profile copied into a kustomization directory:
// kustomize reads no file outside the kustomization's root, so the
// configMapGenerator cannot name configs/ directly.
type Profile struct {
	Source string // the profile, relative to the repository root
	Target string // its copy, relative to this directory
}

// Profiles are the copies the kustomizations build their ConfigMap from.
var Profiles = []Profile{
	{Source: "configs/default.yaml", Target: "base/veltrix.yaml"},
	{Source: "configs/high-throughput.yaml", Target: "overlays/production/veltrix.yaml"},
}

// Generated files besides the profiles, relative to this directory.
const (
	RulesFile      = "components/monitoring/prometheusrule.yaml"
	DashboardsFile = "components/monitoring/dashboards.yaml"
)

// Generate returns every generated file's content by its path relative to
// this directory, read from the repository rooted at root.
func Generate(root string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, p := range Profiles {
		b, err := os.ReadFile(filepath.Join(root, p.Source))
		if err != nil {
			return nil, fmt.Errorf("reading profile: %w", err)
		}
		head := fmt.Sprintf("# Copied from %s by `go test ./deploy/kubernetes -update`: edit that file.\n", p.Source)
		out[p.Target] = append([]byte(head), b...)
	}
	alerts, err := os.ReadFile(filepath.Join(root, "prometheus/alerts.yml"))
	if err != nil {
		return nil, fmt.Errorf("reading alert rules: %w", err)
	}
	rules, err := PrometheusRule(alerts)
	if err != nil {
		return nil, err
	}
	out[RulesFile] = rules
	files, err := filepath.Glob(filepath.Join(root, "grafana/dashboards/*.json"))
	if err != nil {
		return nil, fmt.Errorf("listing dashboards: %w", err)
	}
	boards := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading dashboard: %w", err)
		}
		boards[filepath.Base(f)] = b
	}
	out[DashboardsFile] = Dashboards(boards)
	return out, nil
}

// PrometheusRule wraps a Prometheus rule file (its groups: section) in a
// Prometheus Operator PrometheusRule. The groups are copied as text,
// indented under spec, so expressions, block scalars and comments stay
// exactly as promtool tested them.
func PrometheusRule(alerts []byte) ([]byte, error) {
	lines := strings.Split(string(alerts), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "groups:") {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("converting alert rules: no top-level groups: key")
	}
	var b bytes.Buffer
	b.WriteString(`# Generated from prometheus/alerts.yml by ` + "`go test ./deploy/kubernetes -update`" + `: edit that
# file (promtool tests it: prometheus/alerts_test.yml). Your Prometheus
# selects rules by label (ruleSelector): add its label here if it needs one.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: veltrix
  labels:
    app.kubernetes.io/name: veltrix
spec:
`)
	for _, l := range lines[start:] {
		if strings.TrimSpace(l) != "" {
			b.WriteString("  " + l)
		}
		b.WriteByte('\n')
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n'), nil
}

// DashboardConfigMap is the name of the ConfigMap holding a dashboard file:
// veltrix-lag.json is veltrix-dashboard-lag.
func DashboardConfigMap(file string) string {
	return "veltrix-dashboard-" + strings.TrimPrefix(strings.TrimSuffix(file, ".json"), "veltrix-")
}

// Dashboards renders one ConfigMap per dashboard file for Grafana's
// dashboard sidecar, which loads every ConfigMap labelled
// grafana_dashboard: "1". The JSON is a literal block, byte for byte.
func Dashboards(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteString("# Generated from grafana/dashboards/*.json by `go test ./deploy/kubernetes -update`:\n" +
		"# edit grafana/gen, then run go test ./grafana/gen -update first.\n")
	for i, n := range names {
		if i > 0 {
			b.WriteString("---\n")
		}
		chomp := "|"
		if !bytes.HasSuffix(files[n], []byte("\n")) {
			chomp = "|-"
		}
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  labels:\n    app.kubernetes.io/name: veltrix\n    grafana_dashboard: \"1\"\ndata:\n  %s: %s\n",
			DashboardConfigMap(n), n, chomp)
		for _, l := range strings.Split(strings.TrimSuffix(string(files[n]), "\n"), "\n") {
			if l == "" {
				b.WriteByte('\n')
				continue
			}
			b.WriteString("    " + l + "\n")
		}
	}
	return b.Bytes()
}
