package config

import (
	"flag"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated reference files")

// TestGeneratedFilesFresh fails when docs/configuration.md or
// configs/reference.yaml no longer match the schema.
func TestGeneratedFilesFresh(t *testing.T) {
	for path, want := range map[string]string{
		"../../docs/configuration.md":  Markdown(),
		"../../configs/reference.yaml": ReferenceYAML(),
	} {
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is stale: run go test ./internal/config -update", path)
		}
	}
}

func TestReferenceYAMLLoads(t *testing.T) {
	l, err := Load(Options{File: "../../configs/reference.yaml", Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Config, Default()) {
		t.Errorf("reference.yaml does not hold the defaults:\n%+v\n%+v", l.Config, Default())
	}
	for k, src := range l.Sources {
		if src.Layer != "file" {
			t.Errorf("%s did not come from the reference file", k)
		}
	}
}
