package plan

import (
	"fmt"
	"strings"
)

// YAML renders the plan's settings (Changes) as a configuration file for
// --config: each section once, in the order its first key comes, with a
// comment saying where the file came from.
func (p Plan) YAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# veltrix plan: %s events/s", trimFloat(p.Rate))
	if p.P99 > 0 {
		fmt.Fprintf(&b, " at p99 <= %s", p.P99)
	}
	b.WriteString("\n")
	root := &node{}
	for _, c := range p.Changes {
		key, value, _ := strings.Cut(c, "=")
		root.child(strings.Split(key, ".")).value = value
	}
	root.write(&b, 0)
	return b.String()
}

// node is one section or key of the YAML file, its children in the order
// they were first named.
type node struct {
	name     string
	value    string
	children []*node
}

// child returns the node at path below n, adding what is missing.
func (n *node) child(path []string) *node {
	if len(path) == 0 {
		return n
	}
	for _, c := range n.children {
		if c.name == path[0] {
			return c.child(path[1:])
		}
	}
	c := &node{name: path[0]}
	n.children = append(n.children, c)
	return c.child(path[1:])
}

func (n *node) write(b *strings.Builder, depth int) {
	for _, c := range n.children {
		if len(c.children) == 0 {
			fmt.Fprintf(b, "%s%s: %s\n", strings.Repeat("  ", depth), c.name, c.value)
			continue
		}
		fmt.Fprintf(b, "%s%s:\n", strings.Repeat("  ", depth), c.name)
		c.write(b, depth+1)
	}
}

// Flags renders the plan's settings as command-line flags.
func (p Plan) Flags() string {
	out := make([]string, 0, len(p.Changes))
	for _, c := range p.Changes {
		key, value, _ := strings.Cut(c, "=")
		out = append(out, "--"+key+"="+value)
	}
	return strings.Join(out, " ")
}
