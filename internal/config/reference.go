package config

import (
	"fmt"
	"strings"
)

// Markdown renders the settings reference (docs/configuration.md) from the
// schema.
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# Configuration reference

Generated from the schema in internal/config/schema.go by ` + "`go test ./internal/config -update`" + `; do not edit.

Every setting comes from, in rising precedence: its default, the YAML file
given with ` + "`--config`" + `, the environment variable shown, and the flag
` + "`--<key>`" + ` (or the short flag shown). Durations take a unit (` + "`250ms`, `10s`, `2m`" + `);
sizes take a unit (` + "`512B`, `64KiB`, `10MiB`, `1GB`" + `; KiB/MiB/GiB are powers of two,
KB/MB/GB powers of ten). ` + "`veltrix config validate`" + ` checks a configuration
without connecting anywhere and exits 2 on any problem.
`)
	section := ""
	for _, s := range Schema {
		sec := s.Key[:strings.IndexByte(s.Key, '.')]
		if sec != section {
			section = sec
			fmt.Fprintf(&b, "\n## %s\n\n| key | type | default | allowed | env | flag | description |\n|---|---|---|---|---|---|---|\n", sec)
		}
		def := s.Default
		if def == "" {
			def = "(empty)"
		}
		allowed := strings.TrimPrefix(s.rangeText(), " ")
		if s.Kind == Enum {
			allowed = strings.Join(s.Values, ", ")
		}
		kind := s.Kind.String()
		if s.Unit != "" {
			kind += " (" + s.Unit + ")"
		}
		flag := "`--" + s.Key + "`"
		if s.Flag != "" {
			flag = "`--" + s.Flag + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | `%s` | %s | %s |\n", s.Key, kind, def, allowed, EnvName(s.Key), flag, s.Help)
	}
	return b.String()
}

// ReferenceYAML renders configs/reference.yaml: every key at its default,
// with its description, as a file that validates.
func ReferenceYAML() string {
	var b strings.Builder
	b.WriteString("# Every veltrix setting at its default, with its description.\n")
	b.WriteString("# Generated from internal/config/schema.go by `go test ./internal/config -update`; do not edit.\n")
	var path []string
	for _, s := range Schema {
		parts := strings.Split(s.Key, ".")
		common := 0
		for common < len(path) && common < len(parts)-1 && path[common] == parts[common] {
			common++
		}
		if common == 0 {
			b.WriteString("\n")
		}
		for i := common; i < len(parts)-1; i++ {
			fmt.Fprintf(&b, "%s%s:\n", strings.Repeat("  ", i), parts[i])
		}
		path = parts[:len(parts)-1]
		indent := strings.Repeat("  ", len(parts)-1)
		fmt.Fprintf(&b, "%s# %s\n", indent, s.Help)
		if s.Kind == Enum {
			fmt.Fprintf(&b, "%s# One of: %s.\n", indent, strings.Join(s.Values, ", "))
		} else if r := s.rangeText(); r != "" {
			fmt.Fprintf(&b, "%s# Allowed: %s.\n", indent, strings.TrimPrefix(r, " "))
		}
		fmt.Fprintf(&b, "%s%s: %s\n", indent, parts[len(parts)-1], yamlValue(s))
	}
	return b.String()
}

func yamlValue(s Setting) string {
	switch {
	case s.Kind == List && s.Default == "":
		return "[]"
	case s.Kind == List:
		return "[" + s.Default + "]"
	case s.Kind == String || s.Kind == Regexp || s.Kind == Enum || s.Kind == Duration || s.Kind == Bytes:
		return fmt.Sprintf("%q", s.Default)
	}
	return s.Default
}
