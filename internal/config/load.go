package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts every environment variable veltrix reads.
const EnvPrefix = "VELTRIX_"

// EnvName is the environment variable for key: VELTRIX_ followed by the key
// in upper case with dots as underscores (processor.batch.max_records is
// VELTRIX_PROCESSOR_BATCH_MAX_RECORDS). No two keys share a name; a test
// keeps it so.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Options says where Load reads from, besides the built-in defaults.
type Options struct {
	File    string         // a YAML file; "" for none
	Environ []string       // KEY=VALUE pairs; nil reads the process environment
	Flags   *pflag.FlagSet // flags registered with AddFlags; only changed ones count
}

// Loaded is a validated configuration with the origin of every value.
type Loaded struct {
	Config  Config
	Sources map[string]Source // by key: where the effective value came from
	Values  map[string]any    // by key: the effective typed value
}

// Load reads the layers — defaults < file < environment < flags — checks
// every value against the schema and the rules between settings, and
// returns the typed configuration. On any problem it returns an *Error that
// lists them all; nothing has connected anywhere yet.
func Load(opts Options) (*Loaded, error) {
	var problems []Problem
	raw := map[string]rawValue{}

	defaults := map[string]any{}
	for _, s := range Schema {
		defaults[s.Key] = s.Default
	}
	layer(raw, defaults, func(string) Source { return Source{Layer: "default"} })

	if opts.File != "" {
		m, p := readFile(opts.File)
		problems = append(problems, p...)
		layer(raw, m, func(string) Source { return Source{Layer: "file", Name: opts.File} })
	}

	m, p := readEnv(opts.Environ)
	problems = append(problems, p...)
	layer(raw, m, func(k string) Source { return Source{Layer: "env", Name: EnvName(k)} })

	if opts.Flags != nil {
		m := readFlags(opts.Flags)
		layer(raw, m, func(k string) Source { return Source{Layer: "flag", Name: flagNames(opts.Flags)[k]} })
	}

	// Unknown keys from the file.
	for k, v := range raw {
		if _, ok := Lookup(k); !ok {
			problems = append(problems, Problem{Key: k, Value: text(v.value), Source: v.source,
				Rule: "unknown key", Suggest: suggest(k)})
			delete(raw, k)
		}
	}

	out := &Loaded{Sources: map[string]Source{}, Values: map[string]any{}}
	for _, s := range Schema {
		v := raw[s.Key]
		typed, err := s.parse(text(v.value))
		if err != nil {
			problems = append(problems, Problem{Key: s.Key, Value: text(v.value), Source: v.source, Rule: err.Error()})
			continue
		}
		out.Values[s.Key] = typed
		out.Sources[s.Key] = v.source
	}
	problems = append(problems, readSecretFiles(out)...)
	if len(problems) == 0 {
		problems = append(problems, checkRules(out)...)
		problems = append(problems, checkSecurity(out)...)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Key < problems[j].Key })
		return nil, &Error{Problems: problems}
	}
	if err := decode(out.Values, &out.Config); err != nil {
		return nil, err
	}
	return out, nil
}

// Default returns the configuration with every setting at its default.
func Default() Config {
	l, err := Load(Options{Environ: []string{}})
	if err != nil {
		panic("config: defaults do not validate: " + err.Error()) // a schema bug, caught by tests
	}
	return l.Config
}

type rawValue struct {
	value  any
	source Source
}

// layer puts the values of one layer over the ones below it.
func layer(raw map[string]rawValue, m map[string]any, src func(key string) Source) {
	for k, v := range m {
		raw[k] = rawValue{value: v, source: src(k)}
	}
}

// readFile loads a YAML file with koanf and flattens it to dotted keys.
func readFile(path string) (map[string]any, []Problem) {
	src := Source{Layer: "file", Name: path}
	k := koanf.New(".")
	if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
		rule := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			rule = "file does not exist"
		} else if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			rule = "cannot read file: " + pe.Err.Error()
		} else {
			rule = "not valid YAML: " + strings.TrimPrefix(rule, "yaml: ")
		}
		return nil, []Problem{{Key: "--config", Value: path, Source: src, Rule: rule}}
	}
	all := k.All()
	// An empty section ("processor:" with nothing under it) is harmless.
	for key, v := range all {
		if v == nil && isSection(key) {
			delete(all, key)
		}
	}
	return all, nil
}

func isSection(key string) bool {
	for _, s := range Schema {
		if strings.HasPrefix(s.Key, key+".") {
			return true
		}
	}
	return false
}

// readEnv maps VELTRIX_* variables to keys. A variable that matches no key
// is a problem: it is almost always a typo that would silently do nothing.
func readEnv(environ []string) (map[string]any, []Problem) {
	if environ == nil {
		environ = os.Environ()
	}
	byName := map[string]string{}
	for _, s := range Schema {
		byName[EnvName(s.Key)] = s.Key
	}
	var problems []Problem
	k := koanf.New("\x00") // keys are already dotted; do not split them
	err := k.Load(env.Provider("\x00", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, v string) (string, any) {
			if strings.HasPrefix(name, EnvPrefix+"TEST_") {
				return "", nil // reserved for the test suite (VELTRIX_TEST_BROKERS)
			}
			key, ok := byName[name]
			if !ok {
				p := Problem{Key: name, Value: v, Source: Source{Layer: "env", Name: name},
					Rule: "no setting has this environment variable"}
				if s := suggest(strings.ToLower(strings.TrimPrefix(name, EnvPrefix))); s != "" {
					p.Suggest = EnvName(s)
				} else if s := suggestEnv(name, byName); s != "" {
					p.Suggest = s
				}
				problems = append(problems, p)
				return "", nil
			}
			return key, v
		},
	}), nil)
	if err != nil {
		problems = append(problems, Problem{Key: "environment", Rule: err.Error()})
	}
	return k.All(), problems
}

func suggestEnv(name string, byName map[string]string) string {
	best, bestDist := "", len(name)/3+2
	for n := range byName {
		if d := distance(name, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// readFlags returns the changed flags by key, read with koanf's pflag
// provider so flag values are taken as the flag set parsed them.
func readFlags(fs *pflag.FlagSet) map[string]any {
	k := koanf.New("\x00")
	_ = k.Load(posflag.ProviderWithFlag(fs, "\x00", nil, func(f *pflag.Flag) (string, any) {
		key := flagKey(f)
		if key == "" {
			return "", nil
		}
		return key, f.Value.String()
	}), nil)
	return k.All()
}

// decode copies validated, typed values into the Config struct. Every field
// must be set and every key must land in a field: a mismatch between the
// schema and the struct is a bug that the tests catch here.
//
// A setting with a Field lands there instead of at its key, and the typed
// modes of the packages (processor.CommitMode, ...) decode through their
// UnmarshalText.
func decode(values map[string]any, out *Config) error {
	// A secret's <key>_file was read into the secret by Load; the
	// packages only ever see the secret.
	fields := make(map[string]any, len(values))
	for k, v := range values {
		if _, ok := secretFor(k); ok {
			continue
		}
		if s, ok := Lookup(k); ok && s.Field != "" {
			k = s.Field
		}
		fields[k] = v
	}
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(fields, "."), nil); err != nil {
		return fmt.Errorf("loading typed values: %w", err)
	}
	return k.UnmarshalWithConf("", out, koanf.UnmarshalConf{
		DecoderConfig: &mapstructure.DecoderConfig{
			Result:      out,
			TagName:     "koanf",
			ErrorUnused: true,
			ErrorUnset:  true,
			DecodeHook:  mapstructure.TextUnmarshallerHookFunc(),
		},
	})
}
