package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is the release this binary is; set at build time with
// -ldflags "-X main.version=1.2.3". A binary built by go install
// module@version takes that version instead of "dev".
var version = "dev"

// commit is the commit this binary was built from, for builds without Go's
// VCS stamping (-buildvcs=false, a source archive): -ldflags "-X
// main.commit=abc123". The stamp wins when there is one.
var commit = ""

// buildInfo is what veltrix version prints.
type buildInfo struct {
	Version, Commit, Go, FranzGo string
}

// readBuildInfo reads the version, the commit (with a mark when the tree had
// local changes), the Go version and platform, and franz-go's module
// version from the binary itself.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, FranzGo: "unknown"}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	var rev, at, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		b.Commit = rev[:min(12, len(rev))]
		var notes []string
		if at != "" {
			notes = append(notes, at)
		}
		if modified == "true" {
			notes = append(notes, "with local changes")
		}
		if len(notes) > 0 {
			b.Commit += " (" + strings.Join(notes, ", ") + ")"
		}
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/twmb/franz-go" {
			b.FranzGo = d.Version
			if d.Replace != nil {
				b.FranzGo += " => " + d.Replace.Path + " " + d.Replace.Version
			}
		}
	}
	return b
}

func (b buildInfo) String() string {
	return fmt.Sprintf("veltrix %s\n  commit    %s\n  go        %s\n  franz-go  %s\n", b.Version, b.Commit, b.Go, b.FranzGo)
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go and franz-go versions of this binary",
		Long: `version prints what this binary is: its release ("dev" for a build from a
checkout), the commit it was built from, the Go version and platform it was
built with, and the franz-go version it speaks Kafka with. --version prints
the same. Quote it in bug reports.`,
		Example: `  veltrix version
  veltrix --version`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.OutOrStdout(), readBuildInfo())
			return nil
		},
	}
}
