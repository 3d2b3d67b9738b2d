package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// setupCommands are the README's two set-up commands, in order: the demo
// for a first look and the whole test suite. A newcomer runs them first,
// and .ci/run runs the second, so both places must say the same.
var setupCommands = []string{
	"go run ./cmd/veltrix demo --duration 30s",
	"scripts/test.sh",
}

// TestReadmeStartsWithSetupCommands fails when the README's first code
// lines are not exactly the two set-up commands, or when .ci/run no longer
// runs the test command the README gives. (That the demo command works is
// checked by cmd/veltrix's demo tests; the quickstart further down is run
// by internal/e2e's TestQuickstart.)
func TestReadmeStartsWithSetupCommands(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	// The title, a blank line, then the commands as an indented code block,
	// each maybe followed by a comment.
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "# ") || lines[1] != "" {
		t.Fatalf("README.md does not begin with a title and a blank line: %q", lines[:min(len(lines), 4)])
	}
	for i, want := range setupCommands {
		line := lines[2+i]
		if !strings.HasPrefix(line, "    ") {
			t.Fatalf("README.md line %d is not an indented code line: %q", 3+i, line)
		}
		cmd, _, _ := strings.Cut(strings.TrimSpace(line), "#")
		if got := strings.TrimSpace(cmd); got != want {
			t.Errorf("README.md set-up command %d is %q, want %q", i+1, got, want)
		}
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	testCmd := setupCommands[len(setupCommands)-1]
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(testCmd) + `$`).Match(ci) {
		t.Errorf(".ci/run does not run the README's test command %q on a line of its own", testCmd)
	}
}
