package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with the configuration: which key, what value,
// where the value came from and the rule it broke.
type Problem struct {
	Key     string // the dotted key, or the raw name when it matches no key
	Value   string // the offending value as given ("" when not applicable)
	Source  Source // where the value came from
	Rule    string // what is allowed, in words
	Suggest string // a likely intended key for a misspelling ("" for none)
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Key)
	if p.Value != "" || p.Source.Layer != "" {
		v := p.Value
		if v != "" && p.redactValue() {
			v = Redacted
		}
		fmt.Fprintf(&b, " = %q", v)
	}
	if p.Source.Layer != "" {
		fmt.Fprintf(&b, " (from %s)", p.Source)
	}
	b.WriteString(": ")
	b.WriteString(p.Rule)
	if p.Suggest != "" {
		fmt.Fprintf(&b, "; did you mean %s?", p.Suggest)
	}
	return b.String()
}

// Error is returned by Load when the configuration is invalid. It lists
// every problem found, not only the first. Callers exit with code 2.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	if len(e.Problems) == 1 {
		lines = append(lines, "invalid configuration:")
	} else {
		lines = append(lines, fmt.Sprintf("invalid configuration (%d problems):", len(e.Problems)))
	}
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}

// Source says where a value came from.
type Source struct {
	Layer string // default, file, env or flag
	Name  string // the file path, variable name or flag name
}

func (s Source) String() string {
	switch s.Layer {
	case "file":
		return "file " + s.Name
	case "env":
		return "env " + s.Name
	case "flag":
		return "flag --" + s.Name
	}
	return s.Layer
}

// suggest returns the schema key closest to name, when it is close enough
// to be a misspelling.
func suggest(name string) string {
	best, bestDist := "", len(name)/3+2
	for _, s := range Schema {
		if d := distance(name, s.Key); d < bestDist {
			best, bestDist = s.Key, d
		}
		// A right leaf under the wrong section, e.g. batch.max_records.
		if strings.HasSuffix(s.Key, "."+name) {
			return s.Key
		}
	}
	return best
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
