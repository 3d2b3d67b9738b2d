package kubernetes

import (
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// TestAutoscalerChecksBite breaks each autoscaling rule once in the HPA and
// KEDA overlays and requires Check to name it.
func TestAutoscalerChecksBite(t *testing.T) {
	secrets := secretDir(t)
	i32 := func(n int32) *int32 { return &n }
	for _, tc := range []struct {
		name, overlay string
		break_        func(m *Manifests)
		want          string
	}{
		{"HPA above the partitions", "autoscaling-hpa", func(m *Manifests) { m.HPAs[0].Spec.MaxReplicas = 25 }, "the maximum 25 is above the topic's 24 partitions"},
		{"HPA to zero", "autoscaling-hpa", func(m *Manifests) { m.HPAs[0].Spec.MinReplicas = i32(0) }, "minReplicas below 1"},
		{"HPA on another group", "autoscaling-hpa", func(m *Manifests) {
			m.HPAs[0].Spec.Metrics[0].External.Metric.Selector.MatchLabels["group"] = "billing"
		}, `follows the recommendation for group "billing"`},
		{"HPA halving the recommendation", "autoscaling-hpa", func(m *Manifests) {
			q := resource.MustParse("2")
			m.HPAs[0].Spec.Metrics[0].External.Target.AverageValue = &q
		}, "must be AverageValue 1"},
		{"HPA on another metric", "autoscaling-hpa", func(m *Manifests) {
			m.HPAs[0].Spec.Metrics[0].External.Metric.Name = "kafka_consumergroup_group_sum_lag"
		}, "does not follow veltrix_autoscale_recommended_replicas"},
		{"HPA scaling down at once", "autoscaling-hpa", func(m *Manifests) {
			m.HPAs[0].Spec.Behavior.ScaleDown.StabilizationWindowSeconds = i32(30)
		}, "scale-down stabilization window 30s is under twice processor.group.rebalance_timeout"},
		{"replicas kept beside the HPA", "autoscaling-hpa", func(m *Manifests) {
			for i := range m.Deployments {
				if m.Deployments[i].Name == "veltrix-processor" {
					m.Deployments[i].Spec.Replicas = i32(6)
				}
			}
		}, "sets replicas: every kubectl apply would reset"},
		{"HPA on the lag exporter", "autoscaling-hpa", func(m *Manifests) { m.HPAs[0].Spec.ScaleTargetRef.Name = "veltrix-lag" }, "runs no veltrix process"},
		{"ScaledObject at KEDA's default maximum", "autoscaling-keda", func(m *Manifests) { m.ScaledObjects[0].Spec.MaxReplicaCount = nil }, "the maximum 100 is above the topic's 24 partitions"},
		{"ScaledObject to zero", "autoscaling-keda", func(m *Manifests) { m.ScaledObjects[0].Spec.MinReplicaCount = i32(0) }, "can scale to zero"},
		{"ScaledObject idle at zero", "autoscaling-keda", func(m *Manifests) { m.ScaledObjects[0].Spec.IdleReplicaCount = i32(0) }, "can scale to zero"},
		{"ScaledObject on another group", "autoscaling-keda", func(m *Manifests) {
			tr := &m.ScaledObjects[0].Spec.Triggers[0]
			tr.Metadata["query"] = strings.ReplaceAll(tr.Metadata["query"], `group="veltrix"`, `group="billing"`)
		}, `does not select group="veltrix"`},
		{"ScaledObject threshold", "autoscaling-keda", func(m *Manifests) { m.ScaledObjects[0].Spec.Triggers[0].Metadata["threshold"] = "2" }, `threshold must be "1"`},
		{"ScaledObject on KEDA's Kafka scaler", "autoscaling-keda", func(m *Manifests) { m.ScaledObjects[0].Spec.Triggers[0].Type = "kafka" }, "no prometheus trigger follows"},
		{"ScaledObject scaling down at once", "autoscaling-keda", func(m *Manifests) {
			m.ScaledObjects[0].Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior.ScaleDown.StabilizationWindowSeconds = i32(0)
		}, "scale-down stabilization window 0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, "overlays/"+tc.overlay)
			if p := m.Check(Options{SecretDir: secrets}); len(p) > 0 {
				t.Fatalf("the %s overlay fails before breaking it: %v", tc.overlay, p)
			}
			tc.break_(m)
			var all []string
			for _, p := range m.Check(Options{SecretDir: secrets}) {
				all = append(all, p.String())
				if strings.Contains(p.String(), tc.want) {
					return
				}
			}
			t.Errorf("no problem says %q; got:\n%s", tc.want, strings.Join(all, "\n"))
		})
	}
}

// TestPrometheusAdapterRule checks that the adapter rule serves the metric
// the HPA reads, under the same name, per namespace.
func TestPrometheusAdapterRule(t *testing.T) {
	raw, err := os.ReadFile("overlays/autoscaling-hpa/prometheus-adapter-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Rules struct {
			External []struct {
				SeriesQuery string `json:"seriesQuery"`
				Resources   struct {
					Overrides map[string]struct {
						Resource string `json:"resource"`
					} `json:"overrides"`
				} `json:"resources"`
				Name struct {
					As string `json:"as"`
				} `json:"name"`
				MetricsQuery string `json:"metricsQuery"`
			} `json:"external"`
		} `json:"rules"`
	}
	if err := yaml.UnmarshalStrict(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Rules.External) != 1 {
		t.Fatalf("%d external rules, want 1", len(v.Rules.External))
	}
	r := v.Rules.External[0]
	if !strings.HasPrefix(r.SeriesQuery, RecommendationMetric+"{") || r.Name.As != RecommendationMetric {
		t.Errorf("the rule serves %q from %q, want %s", r.Name.As, r.SeriesQuery, RecommendationMetric)
	}
	if r.Resources.Overrides["namespace"].Resource != "namespace" {
		t.Error("the rule does not map the namespace label: the HPA's namespace would not select the series")
	}
	if !strings.Contains(r.MetricsQuery, "<<.LabelMatchers>>") || !strings.Contains(r.MetricsQuery, "group") {
		t.Errorf("metricsQuery %q does not keep the HPA's label selector and the group", r.MetricsQuery)
	}
	m := render(t, "overlays/autoscaling-hpa")
	if len(m.HPAs) != 1 || m.HPAs[0].Spec.Metrics[0].External.Metric.Name != r.Name.As {
		t.Error("the HPA does not read the metric the adapter serves")
	}
}
