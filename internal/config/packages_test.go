package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/pkg/autoscale"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// TestDefaultsMatchPackages: the schema's defaults are each package's
// DefaultConfig, so a Go user who skips this package runs what the CLI
// runs, and the two cannot drift.
func TestDefaultsMatchPackages(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		name      string
		schema    any
		pkg       any
		validates error
	}{
		{"kafka", c.Kafka, kafka.DefaultConfig(), nil},
		{"topic", c.Topic, kafka.DefaultTopicConfig(), nil},
		{"producer", c.Producer, producer.DefaultConfig(), producer.DefaultConfig().Validate()},
		{"generator", c.Generate, generate.DefaultConfig(), generate.DefaultConfig().Validate()},
		{"processor", c.Processor, processor.DefaultConfig(), processor.DefaultConfig().Validate()},
		{"handler", c.Handler, handler.DefaultConfig(), handler.DefaultConfig().Validate()},
		{"lag", c.Lag, lag.DefaultConfig(), lag.DefaultConfig().Validate()},
		{"autoscale", c.Autoscale, autoscale.DefaultConfig(), autoscale.DefaultConfig().Validate()},
	} {
		if !reflect.DeepEqual(tc.schema, tc.pkg) {
			t.Errorf("%s: the schema's defaults\n  %+v\ndiffer from DefaultConfig()\n  %+v", tc.name, tc.schema, tc.pkg)
		}
		if tc.validates != nil {
			t.Errorf("%s: DefaultConfig() does not validate: %v", tc.name, tc.validates)
		}
	}
}

// owner is a package struct that settings decode into, with its Validate.
type owner struct {
	typ      reflect.Type
	validate func(Config) error
}

var owners = map[string][]owner{
	"processor": {{reflect.TypeFor[processor.Config](), func(c Config) error { return c.Processor.Validate() }}},
	"producer": {
		{reflect.TypeFor[producer.Config](), func(c Config) error { return c.Producer.Validate() }},
		{reflect.TypeFor[generate.Config](), func(c Config) error { return c.Generate.Validate() }},
	},
	"handler":   {{reflect.TypeFor[handler.Config](), func(c Config) error { return c.Handler.Validate() }}},
	"lag":       {{reflect.TypeFor[lag.Config](), func(c Config) error { return c.Lag.Validate() }}},
	"autoscale": {{reflect.TypeFor[autoscale.Config](), func(c Config) error { return c.Autoscale.Validate() }}},
}

// laxer are the settings whose package accepts more than the schema's
// minimum, with the reason.
var laxer = map[string]string{
	"handler.timeout": "0 means no timeout in processor.Config; the CLI always sets one",
}

// TestPackagesEnforceSchemaMinimums: for every setting the schema bounds
// from below, the owning package's Validate rejects a value just below the
// bound and names the Go field. Upper bounds are the CLI's view of sane
// values; the packages do not repeat them.
func TestPackagesEnforceSchemaMinimums(t *testing.T) {
	for _, s := range Schema {
		path := s.Key
		if s.Field != "" {
			path = s.Field
		}
		section, rest, _ := strings.Cut(path, ".")
		var o *owner
		var field string
		for i := range owners[section] {
			if f, ok := goPath(owners[section][i].typ, rest); ok {
				o, field = &owners[section][i], f
			}
		}
		if o == nil {
			if owners[section] != nil {
				t.Errorf("%s: no struct of the section has the field %s", s.Key, path)
			}
			continue
		}
		validate := func(v any) error {
			c, err := configWith(s.Key, v)
			if err != nil {
				t.Fatalf("%s: %v", s.Key, err)
			}
			return o.validate(c)
		}
		// Every allowed word is a word the package knows (it may still
		// contradict another default, as acks=leader does idempotence).
		for _, w := range s.Values {
			if err := validate(w); err != nil && strings.Contains(err.Error(), fmt.Sprintf("%s %q: want", field, w)) {
				t.Errorf("%s: Validate refuses the allowed word %q: %v", s.Key, w, err)
			}
		}
		if s.Min == "" || laxer[s.Key] != "" {
			continue
		}
		lo, _ := s.bounds()
		var below any
		switch s.Kind {
		case Int:
			below = int(lo) - 1
		case Float:
			below = lo - 1
		case Duration:
			below = time.Duration(lo) - 1
		case Bytes:
			below = int64(lo) - 1
		default:
			t.Fatalf("%s: a minimum for kind %s", s.Key, s.Kind)
		}
		if err := validate(below); err == nil || !strings.Contains(err.Error(), field+" ") {
			t.Errorf("%s = %v, below the schema's minimum %s: Validate returned %v; want an error naming %s", s.Key, below, s.Min, err, field)
		}
	}
}

// configWith decodes the defaults with key set to the typed value v,
// without the schema's checks.
func configWith(key string, v any) (Config, error) {
	values := map[string]any{}
	for _, s := range Schema {
		d, err := s.parse(s.Default)
		if err != nil {
			return Config{}, err
		}
		values[s.Key] = d
	}
	values[key] = v
	var c Config
	return c, decode(values, &c)
}

// goPath returns the Go field path (Batch.MaxRecords) that the koanf path
// (batch.max_records) decodes into in t.
func goPath(t reflect.Type, key string) (string, bool) {
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if opts == "squash" {
			if p, ok := goPath(f.Type, key); ok {
				return p, true
			}
			continue
		}
		if name == key {
			return f.Name, true
		}
		if rest, ok := strings.CutPrefix(key, name+"."); ok && f.Type.Kind() == reflect.Struct {
			if p, ok := goPath(f.Type, rest); ok {
				return f.Name + "." + p, true
			}
		}
	}
	return "", false
}

// TestFlagSelectorsSplitTheProducerSection: the producer section's keys
// are exactly the client's and the generator's, with none in both, so a
// command can take one struct's flags without an exclusion list.
func TestFlagSelectorsSplitTheProducerSection(t *testing.T) {
	client, gen := ProducerKeys(), GeneratorKeys()
	var section []string
	for _, s := range Schema {
		if strings.HasPrefix(s.Key, "producer.") {
			section = append(section, s.Key)
		}
	}
	both := append(slices.Clone(client), gen...)
	slices.Sort(both)
	slices.Sort(section)
	if !slices.Equal(both, section) {
		t.Errorf("client %v + generator %v\n!= the producer section %v", client, gen, section)
	}
	if !slices.Contains(gen, "producer.rate") || slices.Contains(client, "producer.rate") {
		t.Errorf("producer.rate is not the generator's alone: client %v, generator %v", client, gen)
	}
}

// TestTypedValuesDecode: the typed modes decode from their words, and
// handler.timeout lands in the processor's config, where the engine reads
// it.
func TestTypedValuesDecode(t *testing.T) {
	l, err := Load(Options{Environ: []string{
		"VELTRIX_PROCESSOR_COMMIT_MODE=batch", "VELTRIX_PROCESSOR_ON_FAILURE=dlq",
		"VELTRIX_PROCESSOR_ISOLATION_LEVEL=read_uncommitted", "VELTRIX_HANDLER_TIMEOUT=7s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := l.Config.Processor
	if p.Commit.Mode != processor.CommitBatch || p.OnFailure != processor.OnFailureDLQ ||
		p.IsolationLevel != processor.ReadUncommitted || p.HandlerTimeout != 7*time.Second {
		t.Errorf("decoded %+v", p)
	}
	// A word the schema let through but the type refuses fails decoding,
	// not silently.
	values := map[string]any{}
	for _, s := range Schema {
		values[s.Key], _ = s.parse(s.Default)
	}
	values["processor.commit.mode"] = "sometimes"
	var c Config
	if err := decode(values, &c); err == nil || !strings.Contains(err.Error(), "want one of batch, interval, manual") {
		t.Errorf("decoding an unknown commit mode: %v", err)
	}
}
