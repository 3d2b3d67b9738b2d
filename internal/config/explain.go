package config

import (
	"fmt"
	"strings"
	"time"
)

// Redacted replaces the value of a secret setting in Explain's output.
const Redacted = "<redacted>"

// Entry is one setting's effective value and where it came from, as
// veltrix config explain shows it.
type Entry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`           // the effective value in its textual form; Redacted for a set secret
	Bytes  *int64 `json:"bytes,omitempty"` // a size's exact byte count (10MB and 10MiB differ)
	Layer  string `json:"source"`          // default, file, env or flag
	Name   string `json:"from,omitempty"`  // the file path, variable or flag name
	Secret bool   `json:"secret,omitempty"`
	Env    string `json:"env"` // the variable that would set it
	// Changed is true when the value differs from the default: not merely
	// set by a file, the environment or a flag (a file that spells out
	// every default changes nothing), and compared as values (1m and 60s,
	// 1MiB and 1048576B are the same).
	Changed bool `json:"changed"`
	// Unused, when not empty, says why the setting has no effect with the
	// others as they are: topic.name while topic.names or topic.pattern
	// chooses the input topics.
	Unused string `json:"unused,omitempty"`
}

// Explain lists every setting, in schema order, with its effective value
// and its origin. Values of settings marked Secret are never shown.
func (l *Loaded) Explain() []Entry {
	out := make([]Entry, 0, len(Schema))
	for _, s := range Schema {
		e := entry(s, l.Values[s.Key], l.Sources[s.Key])
		if e.Layer != "default" {
			def, err := s.parse(s.Default)
			d := entry(s, def, Source{})
			// A secret's entry is redacted: any value set differs from
			// its empty default.
			e.Changed = err != nil || d.Value != e.Value || !sameBytes(d.Bytes, e.Bytes)
		}
		e.Unused = l.unusedBecause(s.Key)
		out = append(out, e)
	}
	return out
}

// unusedBecause says why the setting key has no effect given the others,
// "" when it has one (or explain does not know better).
func (l *Loaded) unusedBecause(key string) string {
	if key == "topic.name" {
		for _, k := range []string{"topic.pattern", "topic.names"} {
			switch v := l.Values[k].(type) {
			case string:
				if v != "" {
					return k + " is set"
				}
			case []string:
				if len(v) > 0 {
					return k + " is set"
				}
			}
		}
	}
	return ""
}

func sameBytes(a, b *int64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// entry builds one Entry; a separate function so redaction can be tested
// with a secret setting the schema does not (yet) have.
func entry(s Setting, v any, src Source) Entry {
	e := Entry{Key: s.Key, Layer: src.Layer, Name: src.Name, Secret: s.Secret, Env: EnvName(s.Key)}
	switch x := v.(type) {
	case time.Duration:
		e.Value = x.String()
	case int64:
		if s.Kind == Bytes {
			n := x
			e.Bytes = &n
			e.Value = HumanBytes(x)
		} else {
			e.Value = fmt.Sprint(x)
		}
	case []string:
		e.Value = strings.Join(x, ",")
	default:
		e.Value = text(v)
	}
	if s.Secret && e.Value != "" {
		e.Value, e.Bytes = Redacted, nil
	}
	return e
}

// HumanBytes renders n as its exact byte count and, when it helps, its size
// in binary units: "10485760 B (10MiB)", "10000000 B (9.54MiB)".
func HumanBytes(n int64) string {
	s := fmt.Sprintf("%d B", n)
	if n < 1<<10 {
		return s
	}
	if f := FormatBytes(n); strings.HasSuffix(f, "iB") {
		return s + " (" + f + ")"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	v, i := float64(n)/(1<<10), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%s (%.3g%s)", s, v, units[i])
}
