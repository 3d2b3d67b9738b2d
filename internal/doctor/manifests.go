package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/veltrix/veltrix/pkg/processor"
)

// Manifests is what doctor reads from the Kubernetes manifests a
// deployment applies (ReadManifests): the autoscalers' maxima and the
// processors' grace periods.
type Manifests struct {
	// Source is the directory read, for the findings.
	Source      string
	Autoscalers []Autoscaler
	Processors  []Workload
}

// Autoscaler is a HorizontalPodAutoscaler's maxReplicas or a KEDA
// ScaledObject's maxReplicaCount.
type Autoscaler struct {
	Object string // Kind/name
	Field  string // maxReplicas or maxReplicaCount
	Max    int
}

// Workload is a Deployment or StatefulSet running `veltrix process`.
type Workload struct {
	Object string
	// Grace is terminationGracePeriodSeconds (Kubernetes' default, 30s,
	// when unset).
	Grace time.Duration
}

// ShutdownBound is the longest a processor takes to stop after SIGTERM:
// in-flight work may drain for processor.shutdown_timeout, then the final
// commit has max(shutdown_timeout, 5s) (pkg/processor/rebalance.go). A
// pod's terminationGracePeriodSeconds must be longer, or the kubelet kills
// the process before its commit and the next owner handles that work
// again.
func ShutdownBound(c processor.Config) time.Duration {
	return c.ShutdownTimeout + max(c.ShutdownTimeout, 5*time.Second)
}

// ReadManifests reads the manifests at path: a file of YAML documents, a
// directory of .yaml and .yml files, or a kustomization's root, rendered
// by `kubectl kustomize` (as `kubectl apply -k` would). kustomize is not
// linked into veltrix: it is as large as the rest of the binary (and its
// package initialisation costs memory in every command); without kubectl
// on the PATH a kustomization is refused with the command that renders it.
func ReadManifests(path string) (*Manifests, error) {
	docs, err := manifestDocs(path)
	if err != nil {
		return nil, err
	}
	return ParseManifests(path, docs)
}

func manifestDocs(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	if !st.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
		return b, nil
	}
	if kustomization(path) {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			return nil, fmt.Errorf("%s is a kustomization and kubectl is not on the PATH: render it elsewhere (kubectl kustomize %s > rendered.yaml) and pass the file", path, path)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(kubectl, "kustomize", path)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("rendering %s with kubectl kustomize: %w: %s", path, err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
	files, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	var docs []byte
	for _, f := range files {
		if ext := filepath.Ext(f.Name()); f.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(path, f.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading manifests: %w", err)
		}
		docs = append(append(docs, b...), "\n---\n"...)
	}
	return docs, nil
}

// ParseManifests reads the objects doctor checks from docs, YAML documents
// that came from source (named in findings).
func ParseManifests(source string, docs []byte) (*Manifests, error) {
	m := &Manifests{Source: source}
	dec := yaml.NewDecoder(bytes.NewReader(docs))
	for {
		var o manifest
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading manifests in %s: %w", source, err)
		}
		name := o.Kind + "/" + o.Metadata.Name
		switch o.Kind {
		case "HorizontalPodAutoscaler":
			m.Autoscalers = append(m.Autoscalers, Autoscaler{Object: name, Field: "maxReplicas", Max: o.Spec.MaxReplicas})
		case "ScaledObject":
			m.Autoscalers = append(m.Autoscalers, Autoscaler{Object: name, Field: "maxReplicaCount", Max: o.Spec.MaxReplicaCount})
		case "Deployment", "StatefulSet":
			pod := o.Spec.Template.Spec
			if !slices.ContainsFunc(pod.Containers, func(c container) bool { return len(c.Args) > 0 && c.Args[0] == "process" }) {
				continue
			}
			grace := 30 * time.Second
			if pod.TerminationGracePeriodSeconds != nil {
				grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
			}
			m.Processors = append(m.Processors, Workload{Object: name, Grace: grace})
		}
	}
	return m, nil
}

// kustomization reports whether dir is a kustomization's root.
func kustomization(dir string) bool {
	for _, f := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

// manifest is the part of a Kubernetes object doctor reads.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		MaxReplicas     int `yaml:"maxReplicas"`
		MaxReplicaCount int `yaml:"maxReplicaCount"`
		Template        struct {
			Spec struct {
				TerminationGracePeriodSeconds *int64      `yaml:"terminationGracePeriodSeconds"`
				Containers                    []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type container struct {
	Args []string `yaml:"args"`
}

// ManifestLimits checks the manifests, when given, against the
// configuration: an autoscaler allowed more members than the input topic
// has partitions adds members that get nothing to consume; a grace period
// not above ShutdownBound lets the kubelet kill a processor before its
// final commit, so every rollout and scale-down redelivers work.
func ManifestLimits(in Input) []Finding {
	m := in.Manifests
	if m == nil {
		return nil
	}
	var out []Finding
	p, where := partitions(in)
	for _, a := range m.Autoscalers {
		if a.Max > p {
			out = append(out, Finding{Check: "manifests", Severity: Error,
				Why: fmt.Sprintf("%s in %s may scale to %s=%d but %s %d partitions: members beyond %d get nothing to consume, and each scale step is a rebalance",
					a.Object, m.Source, a.Field, a.Max, where, p, p),
				Fix: fmt.Sprintf("%s: %d in %s", a.Field, p, a.Object)})
		}
	}
	bound := ShutdownBound(in.Config.Processor)
	for _, w := range m.Processors {
		if w.Grace <= bound {
			need := int64((bound+time.Second-1)/time.Second) + 15
			out = append(out, Finding{Check: "manifests", Severity: Error,
				Why: fmt.Sprintf("%s in %s gives its pods terminationGracePeriodSeconds=%d, not above processor.shutdown_timeout=%s plus the final commit (%s in all): the kubelet kills a stopping processor before it commits, and the next owner handles that work again",
					w.Object, m.Source, int64(w.Grace/time.Second), setting(in.Config.Processor.ShutdownTimeout), strings.TrimSpace(human(bound))),
				Fix: fmt.Sprintf("terminationGracePeriodSeconds: %d in %s", need, w.Object)})
		}
	}
	return out
}
