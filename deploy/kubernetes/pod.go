package kubernetes

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/veltrix/veltrix/internal/config"
)

// workload is a Deployment or StatefulSet, as far as the checks go.
type workload struct {
	name        string // Kind/name
	replicas    int32
	replicasSet bool // the manifest sets replicas (else an autoscaler does)
	selector    *metav1.LabelSelector
	template    corev1.PodTemplateSpec
}

// veltrixContainer is a container running veltrix, with the configuration
// it would load in the pod.
type veltrixContainer struct {
	w       *workload
	c       corev1.Container
	command string // process, lag, ...
	cfg     config.Config
}

func (v veltrixContainer) String() string { return v.w.name + " container " + v.c.Name }

// isVeltrix reports whether c runs veltrix: its image is veltrix's.
func isVeltrix(c corev1.Container) bool {
	img := c.Image
	if i := strings.LastIndexByte(img, '/'); i >= 0 {
		img = img[i+1:]
	}
	return img == "veltrix" || strings.HasPrefix(img, "veltrix:") || strings.HasPrefix(img, "veltrix@")
}

// argValue returns the value of --name in args (as --name v or --name=v).
func argValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == "--"+name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// loadConfig loads the configuration c would load in its pod: the file its
// --config names, found in the ConfigMap mounted there, overlaid with its
// environment as the kubelet resolves it. Values under a mounted Secret
// are taken from secretDir instead (the test's stand-in files).
func (m *Manifests) loadConfig(w *workload, c corev1.Container, secretDir, tmp string) (config.Config, []string) {
	var problems []string
	var opts config.Options
	if file, ok := argValue(c.Args, "config"); ok {
		data, err := m.mountedFile(w, c, file)
		if err != nil {
			return config.Config{}, []string{err.Error()}
		}
		opts.File = filepath.Join(tmp, "veltrix.yaml")
		if err := os.WriteFile(opts.File, []byte(data), 0o600); err != nil {
			return config.Config{}, []string{err.Error()}
		}
	}
	env, p := resolveEnv(w, c, secretMounts(w, c), secretDir)
	problems = append(problems, p...)
	opts.Environ = env
	l, err := config.Load(opts)
	if err != nil {
		return config.Config{}, append(problems, "its configuration does not load: "+err.Error())
	}
	return l.Config, problems
}

// mountedFile returns the content of file as the container sees it, from
// the ConfigMap mounted at its directory.
func (m *Manifests) mountedFile(w *workload, c corev1.Container, file string) (string, error) {
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range w.template.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			for _, cm := range m.ConfigMaps {
				if cm.Name == v.ConfigMap.Name {
					data, ok := cm.Data[rel]
					if !ok {
						return "", fmt.Errorf("--config %s: ConfigMap %s has no key %s", file, cm.Name, rel)
					}
					return data, nil
				}
			}
			return "", fmt.Errorf("--config %s: volume %s names ConfigMap %s, which is not in the manifests", file, v.Name, v.ConfigMap.Name)
		}
	}
	return "", fmt.Errorf("--config %s: no ConfigMap volume is mounted there", file)
}

// secretMounts returns the mount paths of the container's Secret volumes.
func secretMounts(w *workload, c corev1.Container) []string {
	var out []string
	for _, vm := range c.VolumeMounts {
		for _, v := range w.template.Spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil {
				out = append(out, strings.TrimSuffix(vm.MountPath, "/")+"/")
			}
		}
	}
	return out
}

// resolveEnv resolves the container's environment as the kubelet would:
// resource limits and pod fields become their values. A secret taken
// from a Secret into the environment is a problem: veltrix reads secrets
// from files (the _file keys), which no process listing shows.
func resolveEnv(w *workload, c corev1.Container, secrets []string, secretDir string) ([]string, []string) {
	var env, problems []string
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.ResourceFieldRef != nil:
			q, err := resourceValue(w, c, e.ValueFrom.ResourceFieldRef)
			if err != nil {
				problems = append(problems, fmt.Sprintf("env %s: %v", e.Name, err))
				continue
			}
			v = q
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				// The first pod of a StatefulSet; any pod name for the checks.
				v = w.name[strings.IndexByte(w.name, '/')+1:] + "-0"
			case "metadata.namespace":
				v = "default"
			default:
				v = "x"
			}
		case e.ValueFrom.SecretKeyRef != nil:
			problems = append(problems, fmt.Sprintf("env %s comes from Secret %s: mount the Secret as files and set the setting's _file key instead", e.Name, e.ValueFrom.SecretKeyRef.Name))
			continue
		default:
			problems = append(problems, fmt.Sprintf("env %s: valueFrom of a kind this check does not resolve", e.Name))
			continue
		}
		if strings.HasPrefix(e.Name, config.EnvPrefix) && strings.HasSuffix(e.Name, "_FILE") {
			under := false
			for _, vm := range c.VolumeMounts {
				if strings.HasPrefix(v, strings.TrimSuffix(vm.MountPath, "/")+"/") {
					under = true
				}
			}
			if !under {
				problems = append(problems, fmt.Sprintf("env %s=%s names a file on no mounted volume", e.Name, v))
			}
		}
		for _, s := range secrets {
			if rel, ok := strings.CutPrefix(v, s); ok && secretDir != "" {
				v = filepath.Join(secretDir, rel)
			}
		}
		env = append(env, e.Name+"="+v)
	}
	return env, problems
}

// resourceValue is what a resourceFieldRef resolves to: the quantity
// divided by the divisor (default 1), rounded up, as the kubelet does.
func resourceValue(w *workload, c corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	target := c
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		found := false
		for _, o := range w.template.Spec.Containers {
			if o.Name == ref.ContainerName {
				target, found = o, true
			}
		}
		if !found {
			return "", fmt.Errorf("resourceFieldRef names container %s, which the pod does not have", ref.ContainerName)
		}
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	list := target.Resources.Limits
	if kind == "requests" {
		list = target.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "", fmt.Errorf("%s is not set on container %s: the kubelet would use the node's allocatable", ref.Resource, target.Name)
	}
	div := resource.MustParse("1")
	if !ref.Divisor.IsZero() {
		div = ref.Divisor
	}
	n := (q.Value() + div.Value() - 1) / div.Value()
	return fmt.Sprint(n), nil
}

// port returns the port number of addr (":9464", "0.0.0.0:9465").
func port(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return p
}
