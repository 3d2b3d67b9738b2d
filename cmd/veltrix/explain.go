package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
)

func newExplain() *cobra.Command {
	var asJSON, changed bool
	cmd := &cobra.Command{
		Use:   "explain [KEY-PREFIX...]",
		Short: "Show every effective setting and where its value came from",
		Long: `explain loads the configuration exactly as the other commands do and lists
every setting with its effective value and its origin: the built-in default,
the --config file (its path), a VELTRIX_* environment variable (its name) or
a flag (its name). Sizes show their exact byte count, so 10MB (10000000 B)
and 10MiB (10485760 B) are told apart. Secret settings are shown as
<redacted> when set.

Arguments narrow the list to keys starting with any of them; --changed shows
only values that differ from their defaults (a file that spells out a
default, or 60s for a default of 1m, changes nothing). --json prints {"settings":[...]} with key,
value, bytes (for sizes), source, from, env and changed for each setting,
and unused with the reason for a setting that has no effect (topic.name
while topic.names or topic.pattern is set).

An invalid configuration is reported as by validate, with exit code 2.`,
		Example: `  veltrix config explain --config configs/high-throughput.yaml
  veltrix config explain processor.batch processor.commit
  VELTRIX_HANDLER_TIMEOUT=5s veltrix config explain --changed --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			var entries []config.Entry
			for _, e := range l.Explain() {
				if changed && !e.Changed {
					continue
				}
				if len(args) > 0 && !hasAnyPrefix(e.Key, args) {
					continue
				}
				entries = append(entries, e)
			}
			if asJSON {
				if entries == nil {
					entries = []config.Entry{}
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"settings": entries})
			}
			printExplain(cmd.OutOrStdout(), entries)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the settings as JSON")
	cmd.Flags().BoolVar(&changed, "changed", false, "show only settings whose value differs from the default")
	config.AddFlags(cmd.Flags(), allPrefixes)
	return cmd
}

func hasAnyPrefix(key string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func printExplain(w io.Writer, entries []config.Entry) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, e := range entries {
		v := e.Value
		if v == "" {
			v = "(empty)"
		}
		src := config.Source{Layer: e.Layer, Name: e.Name}.String()
		if e.Unused != "" {
			src += "; unused: " + e.Unused
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, v, src)
	}
	_ = tw.Flush()
}
