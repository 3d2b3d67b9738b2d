package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLeavesOutTestOnlyDependencies: the Kubernetes libraries
// (kustomize, client-go, envtest) and the plotting library serve tests and
// the simulator, not the binary. Linked in through config doctor's
// manifest check, kustomize grew the binary from 33 to 54 MB and every
// command's memory by about 15 MiB (its package initialisation), which the
// overload scenario's peak RSS bound caught.
func TestBinaryLeavesOutTestOnlyDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/", "sigs.k8s.io/", "gonum.org/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("veltrix links %s (%s...): keep it to tests", dep, banned)
			}
		}
	}
}
