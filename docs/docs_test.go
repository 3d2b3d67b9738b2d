// Package docs holds veltrix's documentation; its tests keep the layout
// table and the file map in architecture.md true to the tree, every
// relative link in the Markdown files pointing at something that exists,
// and the README's set-up commands the ones CI runs.
package docs

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository, seen from this package.
const root = ".."

// TestLayoutTablesMatchTree fails when the layout table or the file map in
// docs/architecture.md names a path that does not exist, or leaves out a
// package directory. The layout table must name each package directory
// itself; the file map may name the directory, a file in it or a glob over
// its files.
func TestLayoutTablesMatchTree(t *testing.T) {
	pkgs := packageDirs(t)
	for _, tc := range []struct {
		file, section string
		byFile        bool // a file or glob in the directory covers it
	}{
		{"docs/architecture.md", "## Layout", false},
		{"docs/architecture.md", "## File map", true},
	} {
		t.Run(tc.file+tc.section, func(t *testing.T) {
			entries := tableEntries(t, tc.file, tc.section)
			if len(entries) == 0 {
				t.Fatalf("%s: no table under %q", tc.file, tc.section)
			}
			covered := map[string]bool{}
			for _, e := range entries {
				matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(e, "/"))))
				if err != nil || len(matches) == 0 {
					t.Errorf("%s names %s, which does not exist", tc.file, e)
					continue
				}
				for _, m := range matches {
					rel, _ := filepath.Rel(root, m)
					rel = filepath.ToSlash(rel)
					covered[rel] = true
					if tc.byFile {
						if info, err := os.Stat(m); err == nil && !info.IsDir() {
							covered[path.Dir(rel)] = true
						}
					}
				}
			}
			for _, p := range pkgs {
				if !covered[p] {
					t.Errorf("%s does not list the package directory %s", tc.file, p)
				}
			}
		})
	}
}

// packageDirs are the directories holding Go files, relative to root.
func packageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			if rel = filepath.ToSlash(rel); !slices.Contains(dirs, rel) {
				dirs = append(dirs, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

var code = regexp.MustCompile("`([^`]+)`")

// tableEntries returns the paths in the first column of the first table
// after the heading section of file. A cell may name several paths; a bare
// name after a path stands in that path's directory (`a/b.go`, `c.go`), and
// {x,y} expands.
func tableEntries(t *testing.T, file, section string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n"+section+"\n")
	if i < 0 {
		t.Fatalf("%s has no %q section", file, section)
	}
	var out []string
	inTable := false
	for _, line := range strings.Split(text[i+len(section)+2:], "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cell := strings.Split(line, "|")[1]
		dir := ""
		for _, m := range code.FindAllStringSubmatch(cell, -1) {
			p := m[1]
			if !strings.Contains(p, "/") && dir != "" {
				p = dir + "/" + p
			}
			if strings.Contains(p, "/") {
				dir = path.Dir(strings.TrimSuffix(p, "/"))
				if strings.HasSuffix(p, "/") {
					dir = strings.TrimSuffix(p, "/")
				}
			}
			out = append(out, expand(p)...)
		}
	}
	return out
}

// expand turns a/{b,c}/d into a/b/d and a/c/d.
func expand(p string) []string {
	i, j := strings.IndexByte(p, '{'), strings.IndexByte(p, '}')
	if i < 0 || j < i {
		return []string{p}
	}
	var out []string
	for _, alt := range strings.Split(p[i+1:j], ",") {
		out = append(out, expand(p[:i]+alt+p[j+1:])...)
	}
	return out
}
