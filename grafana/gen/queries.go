package gen

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Query is one PromQL expression of a dashboard: a panel target or a
// variable's label_values query.
type Query struct {
	Dashboard string // the dashboard's uid
	Panel     string // the panel title, or "$name" for a variable
	RefID     string // the target's refId; "" for a variable
	Expr      string // PromQL as written, with Grafana variables
	Instant   bool   // evaluated once, at the end of the range
}

// panelJSON is the part of a panel Queries reads.
type panelJSON struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID   string `json:"refId"`
		Expr    string `json:"expr"`
		Instant bool   `json:"instant"`
	} `json:"targets"`
	Panels []panelJSON `json:"panels"` // rows may nest panels
}

// Queries returns every panel and variable query of a dashboard JSON.
func Queries(raw []byte) ([]Query, error) {
	var d struct {
		UID        string      `json:"uid"`
		Panels     []panelJSON `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("parsing dashboard: %w", err)
	}
	var out []Query
	var walk func([]panelJSON)
	walk = func(ps []panelJSON) {
		for _, p := range ps {
			for _, t := range p.Targets {
				out = append(out, Query{Dashboard: d.UID, Panel: p.Title, RefID: t.RefID, Expr: t.Expr, Instant: t.Instant})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && v.Type == "query" {
			out = append(out, Query{Dashboard: d.UID, Panel: "$" + v.Name, Expr: q})
		}
	}
	return out, nil
}

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)

// Concrete turns a query into PromQL Prometheus can evaluate on its own,
// the way Grafana would send it with every variable at All: $cluster,
// $group and $topic become .*, $__rate_interval becomes rateInterval, and
// label_values(selector, label) becomes the selector.
func Concrete(expr, rateInterval string) string {
	if m := labelValues.FindStringSubmatch(strings.TrimSpace(expr)); m != nil {
		expr = m[1]
	}
	return strings.NewReplacer(
		"$__rate_interval", rateInterval,
		"$cluster", ".*", "$group", ".*", "$topic", ".*",
	).Replace(expr)
}

var (
	// metricRef finds a metric name, optionally followed by its matchers.
	metricRef = regexp.MustCompile(`\b((?:veltrix|kafka|go|process)_[a-zA-Z0-9_]*)\b(\{[^}]*\})?`)
	// nameMatcher finds __name__ regular expressions.
	nameMatcher = regexp.MustCompile(`__name__=~"([^"]+)"`)
	// matcher finds one label matcher inside braces: label, operator and
	// the quoted value (without escaped quotes, which no query uses).
	matcher = regexp.MustCompile(`(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
)

// Ref is a metric a query reads and the labels it matches on.
type Ref struct {
	Metric   string
	Labels   []string  // the labels of Matchers, in order
	Matchers []Matcher // the selector's label matchers, without __name__
}

// Matcher is one label matcher of a selector, as written: Value may hold
// Grafana variables such as $topic.
type Matcher struct {
	Label string
	Op    string // =, !=, =~ or !~
	Value string
}

// Refs lists the metrics expr reads, with the labels of their matchers. A
// __name__ regular expression's alternatives count as metrics too.
func Refs(expr string) []Ref {
	var out []Ref
	for _, m := range nameMatcher.FindAllStringSubmatch(expr, -1) {
		for _, name := range alternatives(m[1]) {
			if !strings.ContainsAny(name, ".*+?[]\\") {
				out = append(out, Ref{Metric: name})
			}
		}
	}
	rest := nameMatcher.ReplaceAllString(expr, `__name__=~""`)
	for _, m := range metricRef.FindAllStringSubmatch(rest, -1) {
		ms := matchersOf(m[2])
		ref := Ref{Metric: m[1], Matchers: ms}
		for _, x := range ms {
			ref.Labels = append(ref.Labels, x.Label)
		}
		out = append(out, ref)
	}
	return out
}

// alternatives expands a regular expression made of literals, | and
// parenthesised groups of | into the strings it matches:
// "a_(b|c)_d|e" is a_b_d, a_c_d and e.
func alternatives(re string) []string {
	var out []string
	for _, top := range splitTop(re) {
		open := strings.IndexByte(top, '(')
		if open < 0 {
			out = append(out, top)
			continue
		}
		depth, end := 0, -1
		for i := open; i < len(top) && end < 0; i++ {
			switch top[i] {
			case '(':
				depth++
			case ')':
				if depth--; depth == 0 {
					end = i
				}
			}
		}
		if end < 0 {
			out = append(out, top)
			continue
		}
		for _, mid := range alternatives(top[open+1 : end]) {
			out = append(out, alternatives(top[:open]+mid+top[end+1:])...)
		}
	}
	return out
}

// splitTop splits re at the | that are outside parentheses.
func splitTop(re string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(re); i++ {
		switch re[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '|':
			if depth == 0 {
				parts = append(parts, re[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, re[start:])
}

func matchersOf(braces string) []Matcher {
	var ms []Matcher
	for _, m := range matcher.FindAllStringSubmatch(braces, -1) {
		if m[1] != "__name__" {
			ms = append(ms, Matcher{Label: m[1], Op: m[2], Value: m[3]})
		}
	}
	return ms
}
