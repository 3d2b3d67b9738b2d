package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/config"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const manifestsYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: veltrix-processor
spec:
  template:
    spec:
      terminationGracePeriodSeconds: %d
      containers:
        - name: veltrix
          args: [process, --config, /etc/veltrix/veltrix.yaml]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: veltrix-lag
spec:
  template:
    spec:
      containers:
        - name: veltrix
          args: [lag, --serve, ":9465"]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: veltrix-processor
spec:
  maxReplicas: %d
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: veltrix-processor
spec:
  maxReplicaCount: %d
`

// manifestsIn writes the manifests above into a directory and reads them.
func manifestsIn(t *testing.T, grace, hpaMax, kedaMax int) *Manifests {
	t.Helper()
	dir := t.TempDir()
	text := []byte(fmtManifests(grace, hpaMax, kedaMax))
	if err := os.WriteFile(filepath.Join(dir, "all.yaml"), text, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifests(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManifestLimits(t *testing.T) {
	mod := func(c *config.Config) { c.Topic.Partitions = 12; c.Processor.ShutdownTimeout = 30 * time.Second }
	// Right: grace 75s > 30s + 30s, maxima at the 12 partitions.
	ok := in(mod, nil, 0)
	ok.Manifests = manifestsIn(t, 75, 12, 12)
	expect(t, ManifestLimits(ok))

	bad := in(mod, nil, 0)
	bad.Manifests = manifestsIn(t, 60, 24, 13)
	expect(t, ManifestLimits(bad),
		want{"manifests", Error, "maxReplicas=24 but topic.partitions=12 creates 12 partitions", "maxReplicas: 12 in HorizontalPodAutoscaler/veltrix-processor"},
		want{"manifests", Error, "maxReplicaCount=13", "maxReplicaCount: 12 in ScaledObject/veltrix-processor"},
		want{"manifests", Error, "terminationGracePeriodSeconds=60", "terminationGracePeriodSeconds: 75 in Deployment/veltrix-processor"})

	// No manifests given: nothing to say.
	expect(t, ManifestLimits(in(mod, nil, 0)))
}

// TestManifestLimitsOverlays: the repository's own overlays, rendered with
// kustomize, pass with the configuration each one ships.
func TestManifestLimitsOverlays(t *testing.T) {
	for _, tc := range []struct{ overlay, config string }{
		{"dev", "configs/default.yaml"},
		{"production", "configs/high-throughput.yaml"},
		{"autoscaling-hpa", "configs/high-throughput.yaml"},
		{"autoscaling-keda", "configs/high-throughput.yaml"},
	} {
		t.Run(tc.overlay, func(t *testing.T) {
			l, err := config.Load(config.Options{File: filepath.Join("../..", tc.config), Environ: []string{}})
			if err != nil {
				t.Fatal(err)
			}
			// Rendered here with kustomize's library (a test dependency;
			// the binary asks kubectl), as kubectl apply -k would.
			dir := filepath.Join("../../deploy/kubernetes/overlays", tc.overlay)
			res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
			if err != nil {
				t.Fatal(err)
			}
			docs, err := res.AsYaml()
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseManifests(dir, docs)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Processors) == 0 {
				t.Fatalf("no processor workload found in %s", tc.overlay)
			}
			expect(t, ManifestLimits(Input{Config: l.Config, Manifests: m}))
		})
	}
}

func fmtManifests(grace, hpaMax, kedaMax int) string {
	return fmt.Sprintf(manifestsYAML, grace, hpaMax, kedaMax)
}
