// Package prometheus holds no Go code: its tests check the Prometheus and
// Alertmanager configuration next to them with promtool and amtool.
package prometheus

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/veltrix/veltrix/internal/tooltest"
)

// ruleFile is the shape of alerts.yml this test reads.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// run runs a tool in this directory and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	bin := tooltest.Need(t, name)
	var stderr strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func TestCheckRules(t *testing.T) {
	out := run(t, "promtool", "check", "rules", "alerts.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules did not report success:\n%s", out)
	}
}

func TestUnitTestRules(t *testing.T) {
	out := run(t, "promtool", "test", "rules", "alerts_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules did not report success:\n%s", out)
	}
}

func TestCheckPrometheusConfig(t *testing.T) {
	out := run(t, "promtool", "check", "config", "prometheus.yml")
	if !strings.Contains(out, "is valid prometheus config file") {
		t.Fatalf("promtool check config did not report a valid file:\n%s", out)
	}
}

// TestRulesComplete checks what promtool does not: every rule pages with a
// severity the Alertmanager routes, says what to do (runbook), and has a
// unit test in alerts_test.yml.
func TestRulesComplete(t *testing.T) {
	var rf ruleFile
	raw, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatalf("parsing alerts.yml: %v", err)
	}
	tests, err := os.ReadFile("alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" {
				t.Errorf("group %s: a rule without an alert name (recording rules belong elsewhere)", g.Name)
				continue
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning (alertmanager.yml routes those)", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			if r.For == "" {
				t.Errorf("%s: no for: a single bad scrape would page", r.Alert)
			}
			if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("%s: no test in alerts_test.yml", r.Alert)
			}
		}
	}
	if n < 10 {
		t.Errorf("alerts.yml has %d rules, want at least 10", n)
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	out := run(t, "amtool", "check-config", "alertmanager.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("amtool check-config did not report success:\n%s", out)
	}
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"severity=critical", "alertname=VeltrixProcessorDown"}, "oncall"},
		{[]string{"severity=warning", "alertname=VeltrixRebalanceStorm"}, "team"},
		{[]string{"alertname=Unlabelled"}, "team"},
	} {
		args := append([]string{"config", "routes", "test", "--config.file=alertmanager.yml"}, tc.labels...)
		got := strings.TrimSpace(run(t, "amtool", args...))
		if got != tc.want {
			t.Errorf("route for %v: %q, want %q", tc.labels, got, tc.want)
		}
	}
}
