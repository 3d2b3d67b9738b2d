package profile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStartCPU: StartCPU's file holds a profile (gzipped, as
// go tool pprof reads it) once the run stops it, and no path profiles
// nothing.
func TestStartCPU(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := StartCPU(path)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("not a gzipped profile: % x", b[:min(len(b), 8)])
	}
	stop, err = StartCPU("")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := StartCPU(filepath.Join(t.TempDir(), "missing", "cpu.pprof")); err == nil {
		t.Fatal("no error for a profile path in a missing directory")
	}
}
