package kubernetes

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/veltrix/veltrix/internal/doctor"
	"github.com/veltrix/veltrix/pkg/processor"
)

// Options tune Check.
type Options struct {
	// SecretDir stands in for every mounted Secret: a setting naming a file
	// under a Secret's mount path reads it from here (a password, a CA), so
	// the configuration loads as it would in the pod.
	SecretDir string
}

// Problem is one broken invariant.
type Problem struct {
	Object string // Kind/name, and the container when it is about one
	Rule   string
}

func (p Problem) String() string { return p.Object + ": " + p.Rule }

// ShutdownBound is the longest a processor takes to stop after SIGTERM:
// in-flight work may drain for processor.shutdown_timeout, then the final
// commit has max(shutdown_timeout, 5s) (pkg/processor/rebalance.go).
// terminationGracePeriodSeconds must be longer, or the kubelet kills the
// process before its commit and the next owner handles that work again.
func ShutdownBound(c processor.Config) time.Duration {
	return doctor.ShutdownBound(c) // config doctor --manifests checks the same
}

// Check returns every broken invariant of a rendered overlay, none when
// all hold:
//   - selectors (workloads, PodDisruptionBudgets, Services) match the pod
//     template labels;
//   - a rolling update can make progress (maxSurge and maxUnavailable not
//     both 0) and the processors' never lowers capacity (maxUnavailable 0);
//   - readiness on /readyz, liveness and startup on /healthz, on the named
//     container port veltrix listens on (metrics.addr, or lag --serve);
//   - terminationGracePeriodSeconds above ShutdownBound;
//   - GOMEMLIMIT is the container's memory limit (resourceFieldRef), and
//     deploy.memory_limit too; the buffers pass config doctor's memory
//     checks against it;
//   - replicas and autoscaler maxima at most the input topic's partitions;
//     autoscalers never to zero, following veltrix's recommendation for
//     the scaled processors' own group and cluster one for one, waiting at
//     least two rebalance timeouts before scaling down, and owning the
//     count (no replicas in the workload);
//   - secrets as files, never in the environment; every _FILE setting on
//     a mounted volume;
//   - one cluster label across the containers and the ServiceMonitor;
//   - images with a pinned tag.
func (m *Manifests) Check(opts Options) []Problem {
	var out []Problem
	add := func(obj, format string, args ...any) {
		out = append(out, Problem{Object: obj, Rule: fmt.Sprintf(format, args...)})
	}
	tmp, err := os.MkdirTemp("", "veltrix-k8s-check")
	if err != nil {
		add("", "%v", err)
		return out
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	ws := m.workloads()
	var containers []veltrixContainer
	for i := range ws {
		w := &ws[i]
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		switch {
		case err != nil:
			add(w.name, "selector: %v", err)
		case sel.Empty():
			add(w.name, "empty selector")
		case !sel.Matches(labels.Set(w.template.Labels)):
			add(w.name, "selector %s does not match the pod template's labels %v", sel, w.template.Labels)
		}
		for j, c := range w.template.Spec.Containers {
			if !isVeltrix(c) {
				continue
			}
			if len(c.Args) == 0 {
				add(w.name, "container %s: no veltrix command in args", c.Name)
				continue
			}
			dir := fmt.Sprintf("%s/%d-%d", tmp, i, j)
			if err := os.Mkdir(dir, 0o700); err != nil {
				add(w.name, "%v", err)
				continue
			}
			cfg, problems := m.loadConfig(w, c, opts.SecretDir, dir)
			for _, p := range problems {
				add(w.name, "container %s: %s", c.Name, p)
			}
			if len(problems) > 0 {
				continue
			}
			containers = append(containers, veltrixContainer{w: w, c: c, command: c.Args[0], cfg: cfg})
		}
	}
	for _, v := range containers {
		for _, r := range checkContainer(v) {
			add(v.String(), "%s", r)
		}
	}
	out = append(out, m.checkRollouts()...)
	out = append(out, m.checkSelectors(ws)...)
	out = append(out, m.checkScaling(containers)...)
	out = append(out, m.checkClusterLabel(containers)...)
	return out
}

// workloads lists the Deployments and StatefulSets.
func (m *Manifests) workloads() []workload {
	var ws []workload
	for _, d := range m.Deployments {
		ws = append(ws, workload{name: "Deployment/" + d.Name, replicas: ptrOr(d.Spec.Replicas, 1), replicasSet: d.Spec.Replicas != nil, selector: d.Spec.Selector, template: d.Spec.Template})
	}
	for _, s := range m.StatefulSets {
		ws = append(ws, workload{name: "StatefulSet/" + s.Name, replicas: ptrOr(s.Spec.Replicas, 1), replicasSet: s.Spec.Replicas != nil, selector: s.Spec.Selector, template: s.Spec.Template})
	}
	return ws
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// checkContainer checks one veltrix container against the configuration
// it loads.
func checkContainer(v veltrixContainer) []string {
	var out []string
	c, spec := v.c, v.w.template.Spec
	if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
		out = append(out, fmt.Sprintf("image %s has no pinned tag", c.Image))
	}

	// The port veltrix serves its probes and metrics on.
	var listen string
	switch v.command {
	case "process":
		listen = port(v.cfg.Metrics.Addr)
	case "lag":
		addr := v.cfg.Lag.Serve
		if s, ok := argValue(c.Args, "serve"); ok {
			addr = s
		}
		listen = port(addr)
	default:
		return append(out, fmt.Sprintf("veltrix %s is not a long-running command to deploy", v.command))
	}
	if listen == "" || listen == "0" {
		out = append(out, "veltrix serves no fixed port for its probes")
	}
	probe := func(kind string, p *corev1.Probe, path string) {
		switch {
		case p == nil:
			out = append(out, "no "+kind+" probe")
		case p.HTTPGet == nil:
			out = append(out, kind+" probe is not an HTTP GET")
		case p.HTTPGet.Path != path:
			out = append(out, fmt.Sprintf("%s probe on %s, not %s", kind, p.HTTPGet.Path, path))
		default:
			if got := containerPort(c, p.HTTPGet.Port); got != listen {
				out = append(out, fmt.Sprintf("%s probe on port %s, but veltrix listens on %s", kind, p.HTTPGet.Port.String(), listen))
			}
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("startup", c.StartupProbe, "/healthz")

	// Memory: GOMEMLIMIT and deploy.memory_limit follow the limit.
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		out = append(out, "no memory limit")
	} else {
		out = append(out, checkGoMemLimit(c, limit.Value())...)
		if v.command == "process" {
			if got := v.cfg.Deploy.MemoryLimit; got != limit.Value() {
				out = append(out, fmt.Sprintf("deploy.memory_limit is %d, not the memory limit %d: config doctor in the pod would check another budget", got, limit.Value()))
			}
			in := doctor.Input{Config: v.cfg, Memory: doctor.Memory{Limit: limit.Value(), Source: "the container's memory limit"}}
			for _, f := range append(doctor.BufferMemory(in), doctor.FetchMemory(in)...) {
				if f.Severity != doctor.Info {
					out = append(out, fmt.Sprintf("config doctor: %s: %s (fix: %s)", f.Severity, f.Why, f.Fix))
				}
			}
		}
	}

	if v.command == "process" {
		grace := time.Duration(ptrOr(spec.TerminationGracePeriodSeconds, 30)) * time.Second
		if bound := ShutdownBound(v.cfg.Processor); grace <= bound {
			out = append(out, fmt.Sprintf("terminationGracePeriodSeconds %s is not above processor.shutdown_timeout %s plus the final commit's max(shutdown_timeout, 5s) = %s: the kubelet kills the processor before it commits",
				grace, v.cfg.Processor.ShutdownTimeout, bound))
		}
		if p := v.cfg.Topic.Partitions; int(v.w.replicas) > p {
			out = append(out, fmt.Sprintf("%d replicas but topic %s has %d partitions (topic.partitions): %d would sit idle", v.w.replicas, v.cfg.Topic.Name, p, int(v.w.replicas)-p))
		}
	}
	return out
}

// containerPort resolves a probe's port (a name or a number) to the
// container port number, "" when the container declares no such port.
func containerPort(c corev1.Container, p intstr.IntOrString) string {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return strconv.Itoa(int(cp.ContainerPort))
		}
	}
	return ""
}

// checkGoMemLimit requires GOMEMLIMIT to follow the container's memory
// limit: from resourceFieldRef limits.memory in bytes, so that changing the
// limit cannot leave the garbage collector aiming at the old one; a
// literal value must be below the limit.
func checkGoMemLimit(c corev1.Container, limit int64) []string {
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		if e.ValueFrom == nil {
			n, err := parseGoBytes(e.Value)
			if err != nil {
				return []string{fmt.Sprintf("GOMEMLIMIT=%s: %v", e.Value, err)}
			}
			if n > limit {
				return []string{fmt.Sprintf("GOMEMLIMIT=%s is above the memory limit (%d bytes)", e.Value, limit)}
			}
			return nil
		}
		r := e.ValueFrom.ResourceFieldRef
		switch {
		case r == nil || r.Resource != "limits.memory":
			return []string{"GOMEMLIMIT does not come from resourceFieldRef limits.memory"}
		case r.ContainerName != "" && r.ContainerName != c.Name:
			return []string{fmt.Sprintf("GOMEMLIMIT is container %s's memory limit, not this container's", r.ContainerName)}
		case !r.Divisor.IsZero() && r.Divisor.Value() != 1:
			return []string{fmt.Sprintf("GOMEMLIMIT has divisor %s: Go reads a bare number as bytes", r.Divisor.String())}
		}
		return nil
	}
	return []string{"no GOMEMLIMIT: the garbage collector does not know the memory limit"}
}

// parseGoBytes parses a GOMEMLIMIT value: a number of bytes with an
// optional B, KiB, MiB, GiB or TiB suffix.
func parseGoBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a byte count")
	}
	return n * mult, nil
}

// checkRollouts checks the update strategies.
func (m *Manifests) checkRollouts() []Problem {
	var out []Problem
	for _, d := range m.Deployments {
		name := "Deployment/" + d.Name
		ru := d.Spec.Strategy.RollingUpdate
		if d.Spec.Strategy.Type == "Recreate" {
			out = append(out, Problem{name, "strategy Recreate stops every member before starting any: the whole group pauses"})
			continue
		}
		surge, unavail := intstr.FromString("25%"), intstr.FromString("25%")
		if ru != nil && ru.MaxSurge != nil {
			surge = *ru.MaxSurge
		}
		if ru != nil && ru.MaxUnavailable != nil {
			unavail = *ru.MaxUnavailable
		}
		if isZero(surge) && isZero(unavail) {
			out = append(out, Problem{name, "maxSurge and maxUnavailable are both 0: a rolling update cannot make progress"})
		}
		if d.Spec.Template.Labels["app.kubernetes.io/component"] == "processor" && !isZero(unavail) {
			out = append(out, Problem{name, fmt.Sprintf("maxUnavailable %s: a rollout would run the group short of members; use 0 with maxSurge 1", unavail.String())})
		}
	}
	for _, p := range m.PDBs {
		if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
			out = append(out, Problem{"PodDisruptionBudget/" + p.Name, "set exactly one of minAvailable and maxUnavailable"})
		}
	}
	return out
}

// isZero reports whether an absolute or percentage count is zero.
func isZero(v intstr.IntOrString) bool {
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	return strings.TrimSuffix(v.StrVal, "%") == "0"
}

// checkSelectors checks that every PodDisruptionBudget and Service
// selects the pods of some workload.
func (m *Manifests) checkSelectors(ws []workload) []Problem {
	var out []Problem
	matches := func(sel labels.Selector) bool {
		for _, w := range ws {
			if sel.Matches(labels.Set(w.template.Labels)) {
				return true
			}
		}
		return false
	}
	for _, p := range m.PDBs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() || !matches(sel) {
			out = append(out, Problem{"PodDisruptionBudget/" + p.Name, "its selector matches no workload's pods"})
		}
	}
	for _, s := range m.Services {
		if len(s.Spec.Selector) == 0 || !matches(labels.SelectorFromSet(s.Spec.Selector)) {
			out = append(out, Problem{"Service/" + s.Name, "its selector matches no workload's pods"})
		}
	}
	return out
}

// checkClusterLabel requires one cluster name: the lag monitor's series
// carry lag.cluster, and the ServiceMonitor gives veltrix's own series the
// same one, so the dashboards' cluster variable shows them together.
func (m *Manifests) checkClusterLabel(cs []veltrixContainer) []Problem {
	var out []Problem
	names := map[string]string{}
	for _, v := range cs {
		names[v.cfg.Lag.Cluster] = v.String()
	}
	for _, sm := range m.ServiceMonitors {
		for _, e := range sm.Spec.Endpoints {
			for _, r := range e.MetricRelabelConfigs {
				if r.TargetLabel == "cluster" && r.Replacement != nil {
					names[*r.Replacement] = "ServiceMonitor/" + sm.Name
				}
			}
		}
	}
	if len(names) > 1 {
		var list []string
		for n, where := range names {
			list = append(list, fmt.Sprintf("%s (%s)", n, where))
		}
		out = append(out, Problem{"", "more than one cluster name: " + strings.Join(slices.Sorted(slices.Values(list)), ", ")})
	}
	return out
}

// processorOf returns the veltrix process container of the named
// workload, nil when it runs none.
func processorOf(cs []veltrixContainer, kind, name string) *veltrixContainer {
	for i, v := range cs {
		if v.command == "process" && v.w.name == kind+"/"+name {
			return &cs[i]
		}
	}
	return nil
}

// RecommendationMetric is what the autoscalers follow (pkg/autoscale).
const RecommendationMetric = "veltrix_autoscale_recommended_replicas"

// checkScaling checks the autoscalers: they scale a processor workload
// that leaves its count to them, never above its topic's partitions and
// never to zero, follow veltrix's recommendation for the workload's own
// group and cluster one for one, and wait before scaling down.
func (m *Manifests) checkScaling(cs []veltrixContainer) []Problem {
	var out []Problem
	target := func(name, kind, ref string, maxR int32) *veltrixContainer {
		v := processorOf(cs, kind, ref)
		switch {
		case v == nil:
			out = append(out, Problem{name, fmt.Sprintf("scales %s/%s, which runs no veltrix process in these manifests", kind, ref)})
			return nil
		case v.w.replicasSet:
			out = append(out, Problem{name, fmt.Sprintf("%s sets replicas: every kubectl apply would reset the autoscaler's count; remove it", v.w.name)})
		}
		if p := v.cfg.Topic.Partitions; int(maxR) > p {
			out = append(out, Problem{name, fmt.Sprintf("the maximum %d is above the topic's %d partitions", maxR, p)})
		}
		return v
	}
	window := func(name string, v *veltrixContainer, b *autoscalingv2.HorizontalPodAutoscalerBehavior) {
		want := 2 * v.cfg.Processor.Group.RebalanceTimeout
		var got time.Duration
		if b != nil && b.ScaleDown != nil && b.ScaleDown.StabilizationWindowSeconds != nil {
			got = time.Duration(*b.ScaleDown.StabilizationWindowSeconds) * time.Second
		} else {
			got = 5 * time.Minute // the HPA's default
		}
		if got < want {
			out = append(out, Problem{name, fmt.Sprintf("scale-down stabilization window %s is under twice processor.group.rebalance_timeout (%s): each scale-down is a rebalance", got, want)})
		}
	}
	for _, h := range m.HPAs {
		name := "HorizontalPodAutoscaler/" + h.Name
		if ptrOr(h.Spec.MinReplicas, 1) < 1 {
			out = append(out, Problem{name, "minReplicas below 1"})
		}
		v := target(name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name, h.Spec.MaxReplicas)
		if v == nil {
			continue
		}
		window(name, v, h.Spec.Behavior)
		follows := false
		for _, ms := range h.Spec.Metrics {
			e := ms.External
			if ms.Type != autoscalingv2.ExternalMetricSourceType || e == nil || e.Metric.Name != RecommendationMetric {
				continue
			}
			follows = true
			var labels map[string]string
			if e.Metric.Selector != nil {
				labels = e.Metric.Selector.MatchLabels
			}
			if labels["group"] != v.cfg.Processor.Group.ID || labels["cluster"] != v.cfg.Lag.Cluster {
				out = append(out, Problem{name, fmt.Sprintf("follows the recommendation for group %q on cluster %q, but %s runs group %q on cluster %q",
					labels["group"], labels["cluster"], v.w.name, v.cfg.Processor.Group.ID, v.cfg.Lag.Cluster)})
			}
			if e.Target.Type != autoscalingv2.AverageValueMetricType || e.Target.AverageValue == nil || e.Target.AverageValue.Value() != 1 {
				out = append(out, Problem{name, "the recommendation's target must be AverageValue 1, so that the desired count is the recommended one"})
			}
		}
		if !follows {
			out = append(out, Problem{name, "does not follow " + RecommendationMetric})
		}
	}
	for _, s := range m.ScaledObjects {
		name := "ScaledObject/" + s.Name
		ref := s.Spec.ScaleTargetRef
		if ref == nil {
			out = append(out, Problem{name, "no scaleTargetRef"})
			continue
		}
		if ptrOr(s.Spec.MinReplicaCount, 0) < 1 || s.Spec.IdleReplicaCount != nil {
			out = append(out, Problem{name, "can scale to zero: a broker replacement or a stale metric would stop the group; set minReplicaCount ≥ 1 and no idleReplicaCount"})
		}
		kind := ref.Kind
		if kind == "" {
			kind = "Deployment"
		}
		v := target(name, kind, ref.Name, ptrOr(s.Spec.MaxReplicaCount, 100)) // 100: KEDA's default
		if v == nil {
			continue
		}
		var b *autoscalingv2.HorizontalPodAutoscalerBehavior
		if a := s.Spec.Advanced; a != nil && a.HorizontalPodAutoscalerConfig != nil {
			b = a.HorizontalPodAutoscalerConfig.Behavior
		}
		window(name, v, b)
		follows := false
		for _, tr := range s.Spec.Triggers {
			q := tr.Metadata["query"]
			if tr.Type != "prometheus" || !strings.Contains(q, RecommendationMetric) {
				continue
			}
			follows = true
			for _, l := range []string{fmt.Sprintf("group=%q", v.cfg.Processor.Group.ID), fmt.Sprintf("cluster=%q", v.cfg.Lag.Cluster)} {
				if !strings.Contains(q, l) {
					out = append(out, Problem{name, fmt.Sprintf("the query %s does not select %s, the scaled processors' own", q, l)})
				}
			}
			if tr.Metadata["threshold"] != "1" || (tr.MetricType != "" && tr.MetricType != autoscalingv2.AverageValueMetricType) {
				out = append(out, Problem{name, "the recommendation's threshold must be \"1\" with metricType AverageValue, so that the desired count is the recommended one"})
			}
		}
		if !follows {
			out = append(out, Problem{name, "no prometheus trigger follows " + RecommendationMetric})
		}
	}
	return out
}
