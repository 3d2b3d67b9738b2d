package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestDefaultsValidate(t *testing.T) {
	c := Default()
	if c.Processor.Batch.MaxRecords != 500 || c.Processor.Commit.Interval != time.Second || c.Generate.Size != 100 {
		t.Fatalf("unexpected defaults: %+v", c.Processor)
	}
	if c.Topic.Name != "events" || c.Handler.Name != "noop" || c.Processor.Buffer.MaxBytes != 64<<20 {
		t.Fatalf("unexpected defaults: %+v %+v", c.Topic, c.Handler)
	}
}

func TestEnvNamesAreUnambiguous(t *testing.T) {
	seen := map[string]string{}
	for _, s := range Schema {
		n := EnvName(s.Key)
		if other, ok := seen[n]; ok {
			t.Errorf("%s and %s share env name %s", s.Key, other, n)
		}
		seen[n] = s.Key
	}
}

func TestSchemaDeclarations(t *testing.T) {
	for _, s := range Schema {
		if s.Help == "" || !strings.HasSuffix(s.Help, ".") {
			t.Errorf("%s: help must be a sentence", s.Key)
		}
		if _, err := s.parse(s.Default); err != nil {
			t.Errorf("%s: default %q does not parse: %v", s.Key, s.Default, err)
		}
		for _, b := range []string{s.Min, s.Max} {
			if b == "" {
				continue
			}
			if _, err := (Setting{Kind: s.Kind}).parse(b); err != nil {
				t.Errorf("%s: bound %q does not parse: %v", s.Key, b, err)
			}
		}
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "veltrix.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLayersOverride(t *testing.T) {
	file := writeFile(t, "processor:\n  batch:\n    max_records: 100\n    max_wait: 20ms\ntopic:\n  name: from-file\n")
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	AddFlags(fs, []string{"topic.", "processor."})
	if err := fs.Parse([]string{"--topic", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	l, err := Load(Options{File: file, Environ: []string{"VELTRIX_PROCESSOR_BATCH_MAX_RECORDS=200", "HOME=/x"}, Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Processor.Batch.MaxRecords != 200 || c.Processor.Batch.MaxWait != 20*time.Millisecond || c.Topic.Name != "from-flag" {
		t.Fatalf("layering wrong: %+v %+v", c.Processor.Batch, c.Topic)
	}
	want := map[string]string{
		"processor.batch.max_records": "env VELTRIX_PROCESSOR_BATCH_MAX_RECORDS",
		"processor.batch.max_wait":    "file " + file,
		"topic.name":                  "flag --topic",
		"processor.commit.mode":       "default",
	}
	for k, w := range want {
		if got := l.Sources[k].String(); got != w {
			t.Errorf("source of %s = %q, want %q", k, got, w)
		}
	}
}

func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        []string
		want       []string // substrings of the error
	}{
		{"unknown key with suggestion", "processor:\n  batch:\n    max_record: 5\n", nil,
			[]string{"processor.batch.max_record", "unknown key", "did you mean processor.batch.max_records?"}},
		{"wrong type", "processor:\n  batch:\n    max_records: lots\n", nil,
			[]string{`processor.batch.max_records = "lots"`, "from file", "want a whole number from 1 to 1000000"}},
		{"out of range", "processor:\n  batch:\n    max_records: 0\n", nil,
			[]string{"processor.batch.max_records", "from 1 to 1000000"}},
		{"bare number for a duration", "processor:\n  commit:\n    interval: 500\n", nil,
			[]string{"processor.commit.interval", `"500"`, "want a duration with a unit"}},
		{"negative size", "processor:\n  buffer:\n    max_bytes: -5MiB\n", nil,
			[]string{"processor.buffer.max_bytes", "from 1KiB to 64GiB"}},
		{"bad enum from env", "", []string{"VELTRIX_PROCESSOR_COMMIT_MODE=sometimes"},
			[]string{"processor.commit.mode", "env VELTRIX_PROCESSOR_COMMIT_MODE", "want one of batch, interval, manual"}},
		{"unknown env var", "", []string{"VELTRIX_PROCESSOR_BATCH_MAX_RECORD=5"},
			[]string{"VELTRIX_PROCESSOR_BATCH_MAX_RECORD", "no setting has this environment variable", "VELTRIX_PROCESSOR_BATCH_MAX_RECORDS"}},
		{"contradiction", "producer:\n  acks: leader\n", nil,
			[]string{"producer.acks", "idempotent writes require acks=all"}},
		{"fetch wait below what the client accepts", "processor:\n  fetch:\n    max_wait: 5ms\n", nil,
			[]string{"processor.fetch.max_wait", `"5ms"`, "from 10ms to 1m"}},
		{"yaml syntax", "processor:\n  batch: [\n", nil,
			[]string{"not valid YAML", "line"}},
		{"bad regular expression", "lag:\n  groups: 'orders-(['\n", nil,
			[]string{`lag.groups = "orders-(["`, "from file", "want a regular expression (RE2 syntax): missing closing ]"}},
		{"forward without output", "handler:\n  name: forward\n", nil,
			[]string{"handler.output_topic", "needs an output topic"}},
		{"simulate forwarding without output", "handler:\n  name: simulate\n  simulate:\n    forward: true\n", nil,
			[]string{"handler.output_topic", "handler.simulate.forward needs an output topic"}},
		{"dead letters into the output", "handler:\n  name: forward\n  output_topic: out\nprocessor:\n  on_failure: dlq\n  dlq_topic: out\n", nil,
			[]string{"processor.dlq_topic", "must differ from handler.output_topic"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Environ: tc.env}
			if opts.Environ == nil {
				opts.Environ = []string{}
			}
			if tc.file != "" {
				opts.File = writeFile(t, tc.file)
			}
			_, err := Load(opts)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	file := writeFile(t, "processor:\n  batch:\n    max_records: 0\n    max_wait: soon\nbogus: 1\n")
	_, err := Load(Options{File: file, Environ: []string{}})
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(Options{File: "/nonexistent/veltrix.yaml", Environ: []string{}})
	if err == nil || !strings.Contains(err.Error(), "file does not exist") {
		t.Fatalf("got %v", err)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "512B": 512, "64KiB": 64 << 10, "10MB": 10e6, "10MiB": 10 << 20, "1GiB": 1 << 30, "1.5KiB": 1536} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"ten", "1.5B", "5XB", ""} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) succeeded", in)
		}
	}
}
