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
			u := usage
			if i > 0 {
				u = "same as --" + names[0]
			}
			if s.Kind == Bool {
				fs.Bool(name, s.Default == "true", u)
			} else {
				fs.String(name, s.Default, u)
			}
			_ = fs.SetAnnotation(name, keyAnnotation, []string{s.Key})
			if i > 0 {
				// Keep --help short: the long name is documented on the short one.
				_ = fs.MarkHidden(name)
			}
		}
	}
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

func flagUsage(s Setting) string {
	var b strings.Builder
	b.WriteString(s.Help)
	b.WriteString(" [")
	switch s.Kind {
	case Enum:
		b.WriteString(strings.Join(s.Values, "|"))
	default:
		b.WriteString(s.Kind.String())
		if s.Unit != "" {
			b.WriteString(", " + s.Unit)
		}
		if r := s.rangeText(); r != "" {
			b.WriteString(r)
		}
	}
	fmt.Fprintf(&b, "; key %s; env %s]", s.Key, EnvName(s.Key))
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
