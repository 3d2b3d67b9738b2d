package config

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// keyAnnotation ties a flag to the setting it sets.
const keyAnnotation = "veltrix-key"

// AddFlags registers a flag for every setting whose key starts with one of
// prefixes ("processor." or a whole key), skipping keys in except. Each
// setting gets --<key> and, where it has one and the name is still free, its
// everyday short name (--brokers, --topic, --group, ...). Only flags the
// user changed override the file and the environment.
func AddFlags(fs *pflag.FlagSet, prefixes []string, except ...string) {
	for _, s := range Schema {
		if !matches(s.Key, prefixes) || matches(s.Key, except) {
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
