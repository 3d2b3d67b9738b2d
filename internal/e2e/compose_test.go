package e2e

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/veltrix/veltrix/internal/tooltest"
)

// composeService is the part of a resolved compose service the checks read.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     any               `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []any             `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test any `yaml:"test"`
	} `yaml:"healthcheck"`
	Deploy struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
}

// composeFile is docker-compose config's resolved output.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// loadCompose validates docker-compose.yml with docker-compose itself and
// returns the resolved file (anchors merged, paths absolute).
func loadCompose(t *testing.T) composeFile {
	t.Helper()
	bin := tooltest.Need(t, "docker-compose")
	root := tooltest.Root(t)
	cmd := exec.Command(bin, "-f", filepath.Join(root, "docker-compose.yml"), "config")
	cmd.Dir = root
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(strings.ToLower(s), "warn") {
		t.Errorf("docker-compose config warned:\n%s", s)
	}
	var cf composeFile
	if err := yaml.Unmarshal(out, &cf); err != nil {
		t.Fatalf("parsing docker-compose config output: %v", err)
	}
	return cf
}

// strs turns a compose command or healthcheck test (a list, or one
// string) into its words.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

// mount is one volume of a service.
type mount struct{ source, target string }

func mounts(t *testing.T, vs []any) []mount {
	var out []mount
	for _, v := range vs {
		switch v := v.(type) {
		case string: // short syntax: source:target[:mode]
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				t.Errorf("volume %q has no target", v)
				continue
			}
			out = append(out, mount{parts[0], parts[1]})
		case map[string]any: // long syntax
			src, _ := v["source"].(string)
			dst, _ := v["target"].(string)
			out = append(out, mount{src, dst})
		}
	}
	return out
}

func TestComposeStack(t *testing.T) {
	cf := loadCompose(t)
	root := tooltest.Root(t)

	for _, name := range []string{"kafka", "topics", "producer", "processor", "lag", "prometheus", "alertmanager", "grafana"} {
		if _, ok := cf.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	if r := cf.Services["processor"].Deploy.Replicas; r < 2 {
		t.Errorf("processor replicas = %d, want several members in one group", r)
	}
	if img := cf.Services["kafka"].Image; !regexp.MustCompile(`^apache/kafka:4\.\d+\.\d+$`).MatchString(img) {
		t.Errorf("kafka image %q, want a pinned Apache Kafka 4.x tag", img)
	}

	for name, s := range cf.Services {
		t.Run(name, func(t *testing.T) {
			// Images are pinned; only the locally built veltrix image has a
			// non-version tag.
			img, tag, ok := strings.Cut(s.Image, ":")
			switch {
			case s.Build != nil:
				if img != "veltrix" {
					t.Errorf("built image %q, want veltrix:<tag>", s.Image)
				}
			case !ok || tag == "latest" || !regexp.MustCompile(`\d`).MatchString(tag):
				t.Errorf("image %q is not pinned to a version", s.Image)
			}
			for dep, d := range s.DependsOn {
				switch d.Condition {
				case "service_healthy":
					if cf.Services[dep].Healthcheck == nil {
						t.Errorf("waits for %s to be healthy, but %s has no healthcheck", dep, dep)
					}
				case "service_completed_successfully":
				default:
					t.Errorf("depends_on %s without a condition (%q): start order is not enforced", dep, d.Condition)
				}
			}
			if name != "topics" && s.Healthcheck == nil {
				t.Errorf("no healthcheck")
			}
			for _, m := range mounts(t, s.Volumes) {
				if filepath.IsAbs(m.source) {
					if !strings.HasPrefix(m.source, root+string(filepath.Separator)) {
						t.Errorf("bind mount %s is outside the repository", m.source)
					} else if _, err := os.Stat(m.source); err != nil {
						t.Errorf("bind mount source missing: %v", err)
					}
				} else if _, ok := cf.Volumes[m.source]; !ok {
					t.Errorf("named volume %s not declared", m.source)
				}
			}
		})
	}
}

// TestComposeVeltrixCommands runs every veltrix service's command line
// (with --help, so nothing connects) and its environment (through config
// validate) against the real binary: a renamed flag, subcommand or key
// fails here, not on a team's host.
func TestComposeVeltrixCommands(t *testing.T) {
	cf := loadCompose(t)
	bin := veltrixBinary(t)
	n := 0
	for name, s := range cf.Services {
		if s.Build == nil {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			args := strs(s.Command)
			if len(args) == 0 {
				t.Fatal("no command")
			}
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
			for k, v := range s.Environment {
				if !strings.HasPrefix(k, "VELTRIX_") {
					t.Errorf("environment %s is not a veltrix setting", k)
				}
				env = append(env, k+"="+v)
			}
			help := exec.Command(bin, append(args, "--help")...)
			help.Env = env
			if out, err := help.CombinedOutput(); err != nil {
				t.Errorf("veltrix %s --help: %v\n%s", strings.Join(args, " "), err, out)
			}
			validate := exec.Command(bin, "config", "validate")
			validate.Env = env
			if out, err := validate.CombinedOutput(); err != nil {
				t.Errorf("veltrix config validate with the service's environment: %v\n%s", err, out)
			}
		})
	}
	if n < 3 {
		t.Errorf("%d veltrix services, want producer, processor and lag", n)
	}
}

// TestComposeReferences checks the files compose mounts point where the
// programs inside look: Prometheus scrapes services that exist, Grafana's
// home dashboard is in the mounted folder, and the Dockerfile copies
// folders that exist.
func TestComposeReferences(t *testing.T) {
	cf := loadCompose(t)
	root := tooltest.Root(t)

	// Prometheus: every target host is a compose service.
	var pc struct {
		RuleFiles []string `yaml:"rule_files"`
		Alerting  struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
			DNSSDConfigs []struct {
				Names []string `yaml:"names"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	raw, err := os.ReadFile(filepath.Join(root, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &pc); err != nil {
		t.Fatalf("parsing prometheus.yml: %v", err)
	}
	hosts := map[string]string{} // host -> job
	for _, am := range pc.Alerting.Alertmanagers {
		for _, sc := range am.StaticConfigs {
			for _, tg := range sc.Targets {
				h, _, _ := net.SplitHostPort(tg)
				hosts[h] = "alerting"
			}
		}
	}
	var jobs []string
	for _, sc := range pc.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				h, _, _ := net.SplitHostPort(tg)
				hosts[h] = sc.JobName
			}
		}
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				hosts[n] = sc.JobName
			}
		}
	}
	for h, job := range hosts {
		if _, ok := cf.Services[h]; !ok && h != "localhost" {
			t.Errorf("prometheus.yml %s targets %q, which is not a compose service", job, h)
		}
	}
	for _, j := range []string{"veltrix-processor", "veltrix-producer", "veltrix-lag"} {
		if !slices.Contains(jobs, j) {
			t.Errorf("prometheus.yml has no %s job (alerts.yml refers to it)", j)
		}
	}
	for _, rf := range pc.RuleFiles {
		if _, err := os.Stat(filepath.Join(root, "prometheus", rf)); err != nil {
			t.Errorf("rule file: %v", err)
		}
	}

	// Grafana: the home dashboard path resolves through a mount to a file.
	g := cf.Services["grafana"]
	home := g.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	found := false
	for _, m := range mounts(t, g.Volumes) {
		if rel, ok := strings.CutPrefix(home, m.target+"/"); ok && filepath.IsAbs(m.source) {
			found = true
			if _, err := os.Stat(filepath.Join(m.source, rel)); err != nil {
				t.Errorf("grafana home dashboard %s: %v", home, err)
			}
		}
	}
	if !found {
		t.Errorf("grafana home dashboard %q is in no mounted folder", home)
	}

	// Dockerfile: every COPY source from the build context exists.
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read only
	copies := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] != "COPY" || strings.HasPrefix(fields[1], "--from") {
			continue
		}
		for _, src := range fields[1 : len(fields)-1] {
			copies++
			if _, err := os.Stat(filepath.Join(root, src)); err != nil {
				t.Errorf("Dockerfile copies %s: %v", src, err)
			}
		}
	}
	if copies == 0 {
		t.Error("Dockerfile copies nothing from the build context")
	}
}
