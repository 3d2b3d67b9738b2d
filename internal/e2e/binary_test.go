package e2e

import (
	"testing"

	"github.com/veltrix/veltrix/internal/child"
)

// veltrixBinary returns the veltrix binary, built once per test run.
func veltrixBinary(t *testing.T) string {
	t.Helper()
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
