// Package tooltest finds the external programs some tests run (promtool,
// prometheus, amtool, docker-compose, chromium). scripts/deps.sh installs
// them; a test that needs one skips loudly when it is missing, and with
// CI=true fails instead, so CI never passes by skipping.
package tooltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Need returns the path of the program name, or skips the test (fails it
// under CI=true) when it is not installed.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed but CI=true: run scripts/deps.sh", name)
	}
	t.Skipf("SKIPPING: %s is not installed; run scripts/deps.sh to install it", name)
	return ""
}

// Root returns the repository's root directory (where go.mod is).
func Root(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("locating the repository root: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
