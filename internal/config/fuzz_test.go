package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadYAML feeds arbitrary bytes to Load as a configuration file: it
// must never panic, and every failure must be a *Error listing problems.
func FuzzLoadYAML(f *testing.F) {
	for _, seed := range []string{
		"",
		"processor:\n  batch:\n    max_records: 100\n",
		"processor:\n  batch: [\n",
		"processor: 5\n",
		"topic:\n  name:\n    nested: 1\n",
		"processor:\n  batch:\n    max_records: [1, 2]\n",
		"kafka:\n  brokers: {a: b}\n",
		"producer:\n  size: -5MiB\n  linger: 500\n",
		"? [a, b]\n: c\n",
		"deploy:\n  memory_limit: 1e400\n",
		"&a [*a]\n",
		"\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte) {
		p := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Load(Options{File: p, Environ: []string{}})
		var ce *Error
		switch {
		case err == nil && l == nil:
			t.Fatal("nil configuration without an error")
		case err != nil && !errors.As(err, &ce):
			t.Fatalf("error is %T, not *Error: %v", err, err)
		case err != nil && len(ce.Problems) == 0:
			t.Fatal("*Error without problems")
		}
	})
}
