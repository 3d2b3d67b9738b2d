package child

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// buildPrefix names the directories Veltrix builds into; the pid of the
// process that owns one follows it.
const buildPrefix = "veltrix-child-"

var veltrixBuild struct {
	once sync.Once
	path string
	err  error
}

// Veltrix returns the path of a veltrix binary built from this checkout's
// cmd/veltrix. The first call in a process builds it into a directory of
// that process's own, so test packages that go test runs at the same time
// never write the same file; later calls return the same path. A process
// cannot remove its directory when its tests end without a TestMain in
// every package, so the first build of a later process removes those of
// processes that have exited.
func Veltrix() (string, error) {
	b := &veltrixBuild
	b.once.Do(func() {
		removeStale()
		dir, err := os.MkdirTemp("", buildPrefix+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			b.err = err
			return
		}
		path := filepath.Join(dir, "veltrix")
		if err := Build(context.Background(), Root(), "./cmd/veltrix", path); err != nil {
			b.err = err
			return
		}
		b.path = path
	})
	return b.path, b.err
}

// Build builds the main package pkg (a path relative to root, such as
// ./cmd/veltrix) of the module at root into the file out.
func Build(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// Root is the directory of this checkout's go.mod, found from this file's
// compile-time path.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// removeStale removes the build directories of processes that no longer
// run. One whose process is alive, or may be (a pid reused since), stays.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), buildPrefix+"*"))
	for _, dir := range dirs {
		rest := strings.TrimPrefix(filepath.Base(dir), buildPrefix)
		pid, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '-'), 0)])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}
