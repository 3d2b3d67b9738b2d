package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// kubeAssets returns the directory scripts/kube.sh builds the API server,
// etcd and the CRDs into (VELTRIX_TEST_KUBE_ASSETS overrides it). When they are
// missing the test skips, loudly, and fails under CI=true: scripts/test.sh
// builds them first.
func kubeAssets(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("VELTRIX_TEST_KUBE_ASSETS")
	if dir == "" {
		out, err := exec.Command("../../scripts/kube.sh", "dir").Output()
		if err != nil {
			t.Fatalf("scripts/kube.sh dir: %v", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	for _, f := range []string{"kube-apiserver", "etcd", "crd/keda.sh_scaledobjects.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			msg := fmt.Sprintf("no real API server to dry-run against (%v): run scripts/kube.sh build (about 13 minutes, once)", err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip("SKIPPING: " + msg)
		}
	}
	return dir
}

// apiServer is a real kube-apiserver and etcd (envtest starts them; no
// controllers, no kubelet) with the CRDs the manifests use installed.
type apiServer struct {
	rc     rest.Interface
	mapper meta.RESTMapper
}

func startAPIServer(t *testing.T) *apiServer {
	t.Helper()
	assets := kubeAssets(t)
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(assets, "crd")},
		ErrorIfCRDPathMissing: true,
		// A loaded two-core machine starts the API server slower than
		// envtest's default 20s allows.
		ControlPlaneStartTimeout: 2 * time.Minute,
	}
	// No Service endpoints to reconcile on loopback.
	env.ControlPlane.GetAPIServer().Configure().Set("endpoint-reconciler-type", "none")
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", assets, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	t.Logf("API server up with the CRDs in %s", time.Since(start).Round(100*time.Millisecond))
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.GroupVersion = &schema.GroupVersion{}
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &apiServer{rc: rc, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// create sends the manifest as kubectl would after converting its YAML to
// JSON: a POST to its collection, strict field validation (an unknown or
// duplicate field is an error, not a warning), dry-run unless real.
func (s *apiServer) create(ctx context.Context, manifest []byte, real bool) error {
	j, err := yaml.YAMLToJSONStrict(manifest)
	if err != nil {
		return err
	}
	var u unstructured.Unstructured
	if err := json.Unmarshal(j, &u.Object); err != nil {
		return err
	}
	gvk := u.GroupVersionKind()
	m, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("finding the resource of %s: %w", gvk, err)
	}
	prefix := "/apis/" + m.Resource.Group
	if m.Resource.Group == "" {
		prefix = "/api"
	}
	path := prefix + "/" + m.Resource.Version
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := u.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
		path += "/namespaces/" + ns
	}
	req := s.rc.Post().AbsPath(path, m.Resource.Resource).Param("fieldValidation", "Strict").
		SetHeader("Content-Type", "application/json").Body(j)
	if !real {
		req = req.Param("dryRun", metav1.DryRunAll)
	}
	return req.Do(ctx).Error()
}

// namespaces creates, for real, every namespace the objects live in, so
// that they can be dry-run created in it: the overlays' own Namespace
// objects are dry-run first, as the others, and one already created for
// another overlay is fine (the server checks existence after validation).
func (s *apiServer) namespaces(ctx context.Context, t *testing.T, objs []Object) {
	t.Helper()
	for _, o := range objs {
		var ns string
		if o.Kind == "Namespace" {
			if err := s.create(ctx, o.YAML, false); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Errorf("%s: %v", o, err)
			}
			ns = o.Name
		} else {
			var meta struct {
				Metadata struct{ Namespace string } `json:"metadata"`
			}
			if err := yaml.Unmarshal(o.YAML, &meta); err != nil {
				t.Fatalf("%s: %v", o, err)
			}
			ns = meta.Metadata.Namespace
		}
		if ns == "" {
			continue
		}
		nsYAML := fmt.Appendf(nil, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
		if err := s.create(ctx, nsYAML, true); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
	}
}

// TestAPIServerDryRun creates every rendered manifest of every overlay on a
// real API server with server-side dry-run and strict field validation: the
// API server's own validation (selectors, rolling update parameters,
// quantities, probes) and the CRDs' schemas, which decoding into Go types
// does not run. Mutated manifests prove that the check bites.
func TestAPIServerDryRun(t *testing.T) {
	s := startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rendered := map[string][]Object{}
	for _, dir := range overlays(t) {
		name := filepath.Base(dir)
		objs, err := Render(dir)
		if err != nil {
			t.Fatal(err)
		}
		rendered[name] = objs
		t.Run(name, func(t *testing.T) {
			s.namespaces(ctx, t, objs)
			for _, o := range objs {
				if o.Kind == "Namespace" {
					continue
				}
				if err := s.create(ctx, o.YAML, false); err != nil {
					t.Errorf("%s: %v", o, err)
				}
			}
		})
	}

	// Each mutation of a valid object must be refused, for the reason given.
	for _, tc := range []struct {
		name, overlay, object string
		mutate                func(u map[string]any)
		want                  string
	}{
		{"selector not matching the template", "dev", "Deployment/veltrix-processor", func(u map[string]any) {
			set(u, map[string]any{"app.kubernetes.io/name": "other"}, "spec", "selector", "matchLabels")
		}, "`selector` does not match template `labels`"},
		{"maxSurge 0 with maxUnavailable 0", "dev", "Deployment/veltrix-processor", func(u map[string]any) {
			set(u, int64(0), "spec", "strategy", "rollingUpdate", "maxSurge")
			set(u, int64(0), "spec", "strategy", "rollingUpdate", "maxUnavailable")
		}, "may not be 0 when `maxSurge` is 0"},
		{"unknown field", "dev", "Deployment/veltrix-processor", func(u map[string]any) {
			set(u, int64(30), "spec", "template", "spec", "terminationGracePeriod")
		}, `unknown field "spec.template.spec.terminationGracePeriod"`},
		{"ScaledObject trigger metadata not a string", "autoscaling-keda", "ScaledObject/veltrix-processor", func(u map[string]any) {
			triggers := get(u, "spec", "triggers").([]any)
			triggers[0].(map[string]any)["metadata"].(map[string]any)["threshold"] = int64(1)
		}, "spec.triggers[0].metadata.threshold"},
		{"HPA without a maximum", "autoscaling-hpa", "HorizontalPodAutoscaler/veltrix-processor", func(u map[string]any) {
			delete(get(u, "spec").(map[string]any), "maxReplicas")
		}, "maxReplicas"},
		{"ServiceMonitor interval in words", "production", "ServiceMonitor/veltrix", func(u map[string]any) {
			endpoints := get(u, "spec", "endpoints").([]any)
			endpoints[0].(map[string]any)["interval"] = "15 seconds"
		}, "interval"},
	} {
		t.Run("rejects/"+tc.name, func(t *testing.T) {
			var found *Object
			for i, o := range rendered[tc.overlay] {
				if o.String() == tc.object {
					found = &rendered[tc.overlay][i]
				}
			}
			if found == nil {
				t.Fatalf("overlay %s has no %s", tc.overlay, tc.object)
			}
			var u map[string]any
			if err := yaml.Unmarshal(found.YAML, &u); err != nil {
				t.Fatal(err)
			}
			tc.mutate(u)
			y, err := yaml.Marshal(u)
			if err != nil {
				t.Fatal(err)
			}
			err = s.create(ctx, y, false)
			if err == nil {
				t.Fatalf("the API server accepted %s with %s", tc.object, tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused for another reason than %q: %v", tc.want, err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// get returns the value at path in u (nested maps); it panics on a wrong
// path, which is the test's own error.
func get(u map[string]any, path ...string) any {
	var v any = u
	for _, p := range path {
		v = v.(map[string]any)[p]
	}
	return v
}

// set puts v at path in u, creating maps on the way.
func set(u map[string]any, v any, path ...string) {
	m := u
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}
