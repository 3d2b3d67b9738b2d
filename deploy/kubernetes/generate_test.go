package kubernetes

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the generated manifests and profile copies")

// root is the repository root, relative to this package.
const root = "../.."

func TestGeneratedInSync(t *testing.T) {
	files, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v: run go test ./deploy/kubernetes -update", err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("deploy/kubernetes/%s is stale: run go test ./deploy/kubernetes -update", path)
		}
	}
}

// TestPrometheusRuleIsAlerts decodes the generated PrometheusRule and
// compares its groups with prometheus/alerts.yml's, rule for rule.
func TestPrometheusRuleIsAlerts(t *testing.T) {
	raw, err := os.ReadFile(RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var pr monitoringv1.PrometheusRule
	if err := yaml.UnmarshalStrict(raw, &pr); err != nil {
		t.Fatal(err)
	}
	alerts, err := os.ReadFile(filepath.Join(root, "prometheus/alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var want monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(alerts, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Groups) == 0 || len(want.Groups[0].Rules) == 0 {
		t.Fatal("prometheus/alerts.yml decoded to no rules")
	}
	if !reflect.DeepEqual(pr.Spec, want) {
		t.Error("the PrometheusRule's groups differ from prometheus/alerts.yml's")
	}
}

// TestDashboardConfigMaps checks that every dashboard is in a ConfigMap the
// sidecar loads, byte for byte.
func TestDashboardConfigMaps(t *testing.T) {
	raw, err := os.ReadFile(DashboardsFile)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(splitDocs(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "grafana/dashboards/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	if len(m.ConfigMaps) != len(files) {
		t.Fatalf("%d ConfigMaps for %d dashboards", len(m.ConfigMaps), len(files))
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, cm := range m.ConfigMaps {
			if cm.Name != DashboardConfigMap(filepath.Base(f)) {
				continue
			}
			found = true
			if cm.Labels["grafana_dashboard"] != "1" {
				t.Errorf("%s: no grafana_dashboard: \"1\" label; the sidecar would skip it", cm.Name)
			}
			if got := cm.Data[filepath.Base(f)]; got != string(want) {
				t.Errorf("%s: data differs from %s", cm.Name, f)
			}
		}
		if !found {
			t.Errorf("no ConfigMap for %s", f)
		}
	}
}

// splitDocs splits a multi-document YAML file into objects.
func splitDocs(t *testing.T, raw []byte) []Object {
	t.Helper()
	var out []Object
	docs := bytes.Split(raw, []byte("\n---\n"))
	for i, doc := range docs {
		if i < len(docs)-1 {
			doc = append(doc, '\n') // the separator took the last line's newline
		}
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		out = append(out, Object{Kind: head.Kind, Name: head.Metadata.Name, YAML: doc})
	}
	return out
}
