package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/spf13/pflag"

	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/pkg/producer"
)

// keyAnnotation ties a flag to the setting it sets.
const keyAnnotation = "veltrix-key"

// AddFlags registers a flag for every setting whose key starts with one of
// prefixes: a section ("processor."), a whole key, or the keys of one
// struct of a shared section (ProducerKeys, GeneratorKeys). Each setting
// gets --<key> and, where it has one and the name is still free (in schema
// order), its everyday short name (--brokers, --topic, --group, ...). Only
// flags the user changed override the file and the environment.
func AddFlags(fs *pflag.FlagSet, prefixes []string) {
	for _, s := range Schema {
		if !matches(s.Key, prefixes) {
			continue
		}
		usage := flagUsage(s)
		names := []string{s.Key}
		if s.Flag != "" && fs.Lookup(s.Flag) == nil {
			names = append([]string{s.Flag}, names...)
		}
		for i, name := range names {
			if fs.Lookup(name) != nil {
				continue
			}
			if s.Kind == Bool {
				fs.Bool(name, s.Default == "true", usage)
			} else {
				v := &textValue{text: s.Default, kind: s.Kind, values: s.Values}
				fs.VarPF(v, name, "", usage).DefValue = s.Default
			}
			_ = fs.SetAnnotation(name, keyAnnotation, []string{s.Key})
			if i > 0 {
				// pflag's own listing shows the short name only; veltrix's
				// --help lists the long one again among every key.
				_ = fs.MarkHidden(name)
			}
		}
	}
}

// textValue holds a non-bool setting's flag value as given: Load parses
// and checks it, so a bad value is reported with its key, flag and rule
// like one from a file. Its Type names the setting's kind, which --help
// shows (--rate float, --processor.batch.max_wait duration).
type textValue struct {
	text   string
	kind   Kind
	values []string // an Enum's words
}

func (v *textValue) String() string     { return v.text }
func (v *textValue) Set(s string) error { v.text = s; return nil }

// Type names the kind as --help shows it.
func (v *textValue) Type() string {
	switch v.kind {
	case Int:
		return "int"
	case Float:
		return "float"
	case Duration:
		return "duration"
	case Bytes:
		return "size"
	case List:
		return "list"
	case Regexp:
		return "regexp"
	case Enum:
		if w := strings.Join(v.values, "|"); len(w) <= 24 {
			return w // --producer.acks all|leader|none
		}
		return "word"
	}
	return "string"
}

// IsSetting reports whether f sets a configuration key (it was registered
// by AddFlags), and whether it is the key's everyday short name.
func IsSetting(f *pflag.Flag) (setting, short bool) {
	k := flagKey(f)
	return k != "", k != "" && k != f.Name
}

// SuggestFlag returns the flag of fs closest to name (given without its
// dashes) when it is close enough to be a misspelling: the nearest name
// by edit distance, or a flag whose key ends in name (--max_records for
// --processor.batch.max_records). Hidden long names suggest their short
// name. "" for none.
func SuggestFlag(fs *pflag.FlagSet, name string) string {
	best, bestDist := "", len(name)/3+2
	suffix := ""
	fs.VisitAll(func(f *pflag.Flag) {
		if d := distance(name, f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
		if suffix == "" && strings.HasSuffix(f.Name, "."+name) {
			suffix = f.Name
		}
	})
	if best == "" {
		best = suffix
	}
	if best == "" {
		return ""
	}
	// A hidden long name has a short one that --help shows.
	if f := fs.Lookup(best); f != nil && f.Hidden {
		if k := flagKey(f); k != "" {
			if s, ok := Lookup(k); ok && s.Flag != "" && fs.Lookup(s.Flag) != nil && flagKey(fs.Lookup(s.Flag)) == k {
				best = s.Flag
			}
		}
	}
	return best
}

// ProducerKeys are the keys of the producer client's settings
// (producer.Config), for commands that produce but generate nothing.
func ProducerKeys() []string { return structKeys("producer.", reflect.TypeFor[producer.Config]()) }

// GeneratorKeys are the keys of the generator's settings
// (generate.Config), which share the producer section with ProducerKeys.
func GeneratorKeys() []string { return structKeys("producer.", reflect.TypeFor[generate.Config]()) }

// structKeys lists the keys that the koanf tags of t's fields spell under
// prefix, descending into nested structs.
func structKeys(prefix string, t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		switch {
		case opts == "squash":
			out = append(out, structKeys(prefix, f.Type)...)
		case f.Type.Kind() == reflect.Struct:
			out = append(out, structKeys(prefix+name+".", f.Type)...)
		default:
			out = append(out, prefix+name)
		}
	}
	return out
}

func matches(key string, prefixes []string) bool {
	for _, p := range prefixes {
		if key == p || strings.HasPrefix(key, p) && strings.HasSuffix(p, ".") {
			return true
		}
	}
	return false
}

// flagUsage is a setting's help line for --help: what it does, then its
// allowed words or its unit and range, its key and its variable. The flag's
// type (int, duration, size, ...) shows beside its name.
func flagUsage(s Setting) string {
	var b strings.Builder
	b.WriteString(s.Help)
	b.WriteString(" [")
	switch s.Kind {
	case Enum:
		b.WriteString(strings.Join(s.Values, "|") + "; ")
	default:
		var what []string
		if s.Unit != "" {
			what = append(what, s.Unit)
		}
		if r := strings.TrimPrefix(strings.TrimSpace(s.rangeText()), "of "); r != "" {
			what = append(what, r)
		}
		if len(what) > 0 {
			b.WriteString(strings.Join(what, ", ") + "; ")
		}
	}
	fmt.Fprintf(&b, "key %s; env %s]", s.Key, EnvName(s.Key))
	return b.String()
}

// flagKey returns the key a flag sets, or "" for flags that set none.
func flagKey(f *pflag.Flag) string {
	if v := f.Annotations[keyAnnotation]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// flagNames maps each key to the name of the changed flag that set it.
func flagNames(fs *pflag.FlagSet) map[string]string {
	names := map[string]string{}
	fs.Visit(func(f *pflag.Flag) {
		if k := flagKey(f); k != "" {
			names[k] = f.Name
		}
	})
	return names
}
