package kubernetes

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/veltrix/veltrix/internal/tlstest"
)

// overlays are the kustomizations users apply.
func overlays(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("overlays/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no overlays: %v", err)
	}
	return dirs
}

// secretDir writes stand-ins for the files the overlays' Secrets hold.
func secretDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tlstest.NewCA(t).WriteCA(t, dir)
	for _, f := range []string{"password", "client-secret"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// render renders and decodes one overlay.
func render(t *testing.T, dir string) *Manifests {
	t.Helper()
	objs, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(objs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOverlays(t *testing.T) {
	secrets := secretDir(t)
	for _, dir := range overlays(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := render(t, dir)
			if len(m.Deployments)+len(m.StatefulSets) < 2 {
				t.Fatalf("%d Deployments and %d StatefulSets: want the processors and the lag exporter", len(m.Deployments), len(m.StatefulSets))
			}
			for _, p := range m.Check(Options{SecretDir: secrets}) {
				t.Error(p)
			}
		})
	}
}

// TestProductionHasMonitoring checks what the production overlay adds.
func TestProductionHasMonitoring(t *testing.T) {
	m := render(t, "overlays/production")
	if len(m.ServiceMonitors) != 1 || len(m.PrometheusRules) != 1 {
		t.Errorf("%d ServiceMonitors and %d PrometheusRules, want 1 each", len(m.ServiceMonitors), len(m.PrometheusRules))
	}
	boards := 0
	for _, cm := range m.ConfigMaps {
		if cm.Labels["grafana_dashboard"] == "1" {
			boards++
		}
	}
	if boards != 2 {
		t.Errorf("%d dashboard ConfigMaps, want 2", boards)
	}
	for _, d := range m.Deployments {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil && (v.Secret.Optional == nil || *v.Secret.Optional) {
				t.Errorf("Deployment/%s: Secret %s is optional: production must not start without its credentials", d.Name, v.Secret.SecretName)
			}
		}
	}
}

// TestStatefulSetIsTheDeployment keeps the static-membership variant's pod
// template equal to the base Deployment's but for the instance id.
func TestStatefulSetIsTheDeployment(t *testing.T) {
	base := render(t, "base")
	sm := render(t, "overlays/static-membership")
	if len(sm.StatefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(sm.StatefulSets))
	}
	for _, d := range sm.Deployments {
		if d.Name == "veltrix-processor" {
			t.Fatal("the static-membership overlay still has the processor Deployment")
		}
	}
	var dep *corev1.PodTemplateSpec
	for i := range base.Deployments {
		if base.Deployments[i].Name == "veltrix-processor" {
			dep = &base.Deployments[i].Spec.Template
		}
	}
	sts := sm.StatefulSets[0].Spec.Template.DeepCopy()
	c := &sts.Spec.Containers[0]
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "VELTRIX_PROCESSOR_GROUP_INSTANCE_ID" })
	if i < 0 || c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.FieldRef == nil || c.Env[i].ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Fatal("the StatefulSet does not take processor.group.instance_id from the pod name")
	}
	c.Env = slices.Delete(c.Env, i, i+1)
	// The overlay sets the namespace; the base does not.
	if !equalYAML(t, dep, sts) {
		t.Error("the StatefulSet's pod template differs from base/processor.yaml's beyond the instance id: keep them equal")
	}
}

// TestCheckBites breaks each invariant in a correct overlay and requires
// Check to name it.
func TestCheckBites(t *testing.T) {
	secrets := secretDir(t)
	processor := func(m *Manifests) *corev1.PodSpec {
		for i := range m.Deployments {
			if m.Deployments[i].Name == "veltrix-processor" {
				return &m.Deployments[i].Spec.Template.Spec
			}
		}
		t.Fatal("no processor Deployment")
		return nil
	}
	env := func(c *corev1.Container, name string) *corev1.EnvVar {
		for i := range c.Env {
			if c.Env[i].Name == name {
				return &c.Env[i]
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name})
		return &c.Env[len(c.Env)-1]
	}
	for _, tc := range []struct {
		name   string
		break_ func(m *Manifests)
		want   string
	}{
		{"grace period within the shutdown", func(m *Manifests) {
			g := int64(60)
			processor(m).TerminationGracePeriodSeconds = &g
		}, "terminationGracePeriodSeconds 1m0s is not above"},
		{"longer shutdown_timeout in the environment", func(m *Manifests) {
			env(&processor(m).Containers[0], "VELTRIX_PROCESSOR_SHUTDOWN_TIMEOUT").Value = "45s"
		}, "plus the final commit's max(shutdown_timeout, 5s) = 1m30s"},
		{"selector not matching the template", func(m *Manifests) {
			m.Deployments[0].Spec.Template.Labels = map[string]string{"app": "other"}
		}, "does not match the pod template's labels"},
		{"maxSurge and maxUnavailable 0", func(m *Manifests) {
			zero := intstr.FromInt32(0)
			m.Deployments[1].Spec.Strategy.RollingUpdate.MaxSurge = &zero
		}, "both 0"},
		{"processor rollout losing capacity", func(m *Manifests) {
			one := intstr.FromInt32(1)
			for i := range m.Deployments {
				if m.Deployments[i].Name == "veltrix-processor" {
					m.Deployments[i].Spec.Strategy.RollingUpdate.MaxUnavailable = &one
				}
			}
		}, "maxUnavailable 1: a rollout would run the group short"},
		{"readiness on /healthz", func(m *Manifests) {
			processor(m).Containers[0].ReadinessProbe.HTTPGet.Path = "/healthz"
		}, "readiness probe on /healthz, not /readyz"},
		{"liveness on /readyz", func(m *Manifests) {
			processor(m).Containers[0].LivenessProbe.HTTPGet.Path = "/readyz"
		}, "liveness probe on /readyz, not /healthz"},
		{"no startup probe", func(m *Manifests) {
			processor(m).Containers[0].StartupProbe = nil
		}, "no startup probe"},
		{"probe on another port", func(m *Manifests) {
			processor(m).Containers[0].LivenessProbe.HTTPGet.Port = intstr.FromInt32(8080)
		}, "liveness probe on port 8080, but veltrix listens on 9464"},
		{"metrics moved, probes not", func(m *Manifests) {
			env(&processor(m).Containers[0], "VELTRIX_METRICS_ADDR").Value = ":9000"
		}, "readiness probe on port metrics, but veltrix listens on 9000"},
		{"GOMEMLIMIT a literal above the limit", func(m *Manifests) {
			e := env(&processor(m).Containers[0], "GOMEMLIMIT")
			e.ValueFrom, e.Value = nil, "2GiB"
		}, "GOMEMLIMIT=2GiB is above the memory limit"},
		{"GOMEMLIMIT from the request", func(m *Manifests) {
			env(&processor(m).Containers[0], "GOMEMLIMIT").ValueFrom.ResourceFieldRef.Resource = "requests.memory"
		}, "GOMEMLIMIT does not come from resourceFieldRef limits.memory"},
		{"GOMEMLIMIT in MiB", func(m *Manifests) {
			env(&processor(m).Containers[0], "GOMEMLIMIT").ValueFrom.ResourceFieldRef.Divisor = resource.MustParse("1Mi")
		}, "GOMEMLIMIT has divisor 1Mi"},
		{"no GOMEMLIMIT", func(m *Manifests) {
			c := &processor(m).Containers[0]
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" })
		}, "no GOMEMLIMIT"},
		{"memory limit too small for the buffers", func(m *Manifests) {
			c := &processor(m).Containers[0]
			c.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("160Mi")
		}, "config doctor: warn"},
		{"buffer grown past the limit", func(m *Manifests) {
			env(&processor(m).Containers[0], "VELTRIX_PROCESSOR_BUFFER_MAX_BYTES").Value = "512MiB"
		}, "config doctor: error"},
		{"deploy.memory_limit not the limit", func(m *Manifests) {
			e := env(&processor(m).Containers[0], "VELTRIX_DEPLOY_MEMORY_LIMIT")
			e.ValueFrom, e.Value = nil, "1GiB"
		}, "deploy.memory_limit is 1073741824, not the memory limit"},
		{"more replicas than partitions", func(m *Manifests) {
			n := int32(7)
			for i := range m.Deployments {
				if m.Deployments[i].Name == "veltrix-processor" {
					m.Deployments[i].Spec.Replicas = &n
				}
			}
		}, "7 replicas but topic events has 6 partitions"},
		{"password in the environment", func(m *Manifests) {
			e := env(&processor(m).Containers[0], "VELTRIX_KAFKA_SASL_PASSWORD")
			e.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "veltrix-kafka"}, Key: "password"}}
		}, "comes from Secret veltrix-kafka: mount the Secret as files"},
		{"a _FILE setting on no volume", func(m *Manifests) {
			env(&processor(m).Containers[0], "VELTRIX_KAFKA_SASL_PASSWORD_FILE").Value = "/secrets/password"
		}, "names a file on no mounted volume"},
		{"config file not mounted", func(m *Manifests) {
			processor(m).Containers[0].Args = []string{"process", "--config", "/etc/other/veltrix.yaml"}
		}, "no ConfigMap volume is mounted there"},
		{"unpinned image", func(m *Manifests) {
			processor(m).Containers[0].Image = "veltrix:latest"
		}, "no pinned tag"},
		{"cluster names disagree", func(m *Manifests) {
			env(&processor(m).Containers[0], "VELTRIX_LAG_CLUSTER").Value = "other"
		}, "more than one cluster name"},
		{"PDB with both limits", func(m *Manifests) {
			one := intstr.FromInt32(1)
			m.PDBs[0].Spec.MinAvailable = &one
		}, "set exactly one of minAvailable and maxUnavailable"},
		{"PDB selecting nothing", func(m *Manifests) {
			m.PDBs[0].Spec.Selector.MatchLabels = map[string]string{"app": "nothing"}
		}, "its selector matches no workload's pods"},
		{"Service selecting nothing", func(m *Manifests) {
			m.Services[0].Spec.Selector = map[string]string{"app": "nothing"}
		}, "its selector matches no workload's pods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, "overlays/dev")
			if p := m.Check(Options{SecretDir: secrets}); len(p) > 0 {
				t.Fatalf("the dev overlay fails before breaking it: %v", p)
			}
			tc.break_(m)
			problems := m.Check(Options{SecretDir: secrets})
			var all []string
			for _, p := range problems {
				all = append(all, p.String())
				if strings.Contains(p.String(), tc.want) {
					return
				}
			}
			t.Errorf("no problem says %q; got:\n%s", tc.want, strings.Join(all, "\n"))
		})
	}
}

// TestDecodeIsStrict feeds Decode what the API server's strict field
// validation rejects.
func TestDecodeIsStrict(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown field", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 3\n", `unknown field "replica"`},
		{"wrong type", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports:\n    - port: \"9464\"\n", "cannot unmarshal string"},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b, a: c}\n", "already set in map"},
		{"ScaledObject metadata number", "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: x}\nspec:\n  scaleTargetRef: {name: p}\n  triggers:\n    - type: prometheus\n      metadata: {threshold: 1}\n", "cannot unmarshal number"},
		{"kind with no type", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "no API type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head := strings.SplitN(strings.SplitN(tc.yaml, "kind: ", 2)[1], "\n", 2)[0]
			_, err := Decode([]Object{{Kind: head, Name: "x", YAML: []byte(tc.yaml)}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// equalYAML compares two values by their YAML.
func equalYAML(t *testing.T, a, b any) bool {
	t.Helper()
	ya, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	yb, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ya, yb) {
		t.Logf("--- one\n%s\n--- other\n%s", ya, yb)
		return false
	}
	return true
}

// TestEveryOverlayIsChecked breaks the grace period in every overlay, so a
// processor that the checks silently skipped (an image they do not
// recognise, a configuration they did not load) fails here.
func TestEveryOverlayIsChecked(t *testing.T) {
	secrets := secretDir(t)
	for _, dir := range overlays(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := render(t, dir)
			g := int64(1)
			for i := range m.Deployments {
				m.Deployments[i].Spec.Template.Spec.TerminationGracePeriodSeconds = &g
			}
			for i := range m.StatefulSets {
				m.StatefulSets[i].Spec.Template.Spec.TerminationGracePeriodSeconds = &g
			}
			for _, p := range m.Check(Options{SecretDir: secrets}) {
				if strings.Contains(p.Rule, "terminationGracePeriodSeconds 1s") {
					return
				}
			}
			t.Error("a 1s grace period went unnoticed: the processors were not checked")
		})
	}
}
