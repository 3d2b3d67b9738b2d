package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/veltrix/veltrix/internal/tooltest"
)

// binDir holds the veltrix binary the tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "veltrix-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// veltrixBinary builds cmd/veltrix once per test run and returns its path.
func veltrixBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(binDir, "veltrix")
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", path, "./cmd/veltrix")
		cmd.Dir = tooltest.Root(t)
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building veltrix: %v\n%s", buildErr, buildOut)
	}
	return path
}
