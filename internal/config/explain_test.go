package config

import (
	"testing"
	"time"
)

func TestExplainSources(t *testing.T) {
	file := writeFile(t, "processor:\n  buffer:\n    max_bytes: 10MB\n  fetch:\n    max_bytes: 10MiB\n")
	l, err := Load(Options{File: file, Environ: []string{"VELTRIX_HANDLER_TIMEOUT=5s"}})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Entry{}
	for _, e := range l.Explain() {
		byKey[e.Key] = e
	}
	if len(byKey) != len(Schema) {
		t.Fatalf("explain lists %d settings, schema has %d", len(byKey), len(Schema))
	}
	for _, tc := range []struct {
		key, value, layer, name string
		bytes                   int64
	}{
		{"processor.buffer.max_bytes", "10000000 B (9.54MiB)", "file", file, 10000000},
		{"processor.fetch.max_bytes", "10485760 B (10MiB)", "file", file, 10 << 20},
		{"handler.timeout", "5s", "env", "VELTRIX_HANDLER_TIMEOUT", 0},
		{"processor.batch.max_records", "500", "default", "", 0},
		{"producer.size", "100 B", "default", "", 100},
		{"kafka.brokers", "", "default", "", 0},
	} {
		e := byKey[tc.key]
		if e.Value != tc.value || e.Layer != tc.layer || e.Name != tc.name {
			t.Errorf("%s: got %q from %s %q; want %q from %s %q", tc.key, e.Value, e.Layer, e.Name, tc.value, tc.layer, tc.name)
		}
		if tc.bytes != 0 && (e.Bytes == nil || *e.Bytes != tc.bytes) {
			t.Errorf("%s: bytes = %v, want %d", tc.key, e.Bytes, tc.bytes)
		}
	}
}

func TestExplainRedactsSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Setting
		v    any
		want string
	}{
		{"set secret", Setting{Key: "kafka.sasl.password", Kind: String, Secret: true}, "hunter2", Redacted},
		{"empty secret", Setting{Key: "kafka.sasl.password", Kind: String, Secret: true}, "", ""},
		{"plain", Setting{Key: "kafka.client_id", Kind: String}, "hunter2", "hunter2"},
		{"duration", Setting{Key: "x.d", Kind: Duration}, 1500 * time.Millisecond, "1.5s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := entry(tc.s, tc.v, Source{Layer: "env"}).Value; got != tc.want {
				t.Errorf("value = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 512: "512 B", 1 << 20: "1048576 B (1MiB)", 1e6: "1000000 B (977KiB)", 1536: "1536 B (1.5KiB)"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestExplainMarksTopicNameUnused: with topic.names or topic.pattern the
// default topic.name is listed as unused, saying why; alone it is used.
func TestExplainMarksTopicNameUnused(t *testing.T) {
	for _, tc := range []struct {
		environ []string
		want    string
	}{
		{nil, ""},
		{[]string{"VELTRIX_TOPIC_NAME=orders"}, ""},
		{[]string{"VELTRIX_TOPIC_NAMES=orders,payments"}, "topic.names is set"},
		{[]string{"VELTRIX_TOPIC_PATTERN=orders-.*"}, "topic.pattern is set"},
	} {
		l, err := Load(Options{Environ: tc.environ})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Explain() {
			want := ""
			if e.Key == "topic.name" {
				want = tc.want
			}
			if e.Unused != want {
				t.Errorf("%v: %s unused %q, want %q", tc.environ, e.Key, e.Unused, want)
			}
		}
	}
}
