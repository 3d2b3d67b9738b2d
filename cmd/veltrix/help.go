package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/veltrix/veltrix/internal/config"
)

// usage renders a command's usage for --help: its examples and
// subcommands, then the flags one reaches for first (the command's own and
// the everyday short names of settings), then every setting it reads by
// its full key, in the schema's order, each wrapped to the terminal.
func usage(c *cobra.Command) error {
	writeUsage(c.OutOrStderr(), c, termWidth())
	return nil
}

// termWidth is the width help wraps to: $COLUMNS when set, else the
// terminal's width, else 80.
func termWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return n
	}
	if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 20 {
		return w
	}
	return 80
}

// writeUsage writes c's usage to w, wrapped at width columns.
func writeUsage(w io.Writer, c *cobra.Command, width int) {
	fmt.Fprintln(w, "Usage:")
	if c.Runnable() {
		fmt.Fprintf(w, "  %s\n", c.UseLine())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "  %s [command]\n", c.CommandPath())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		pad := 0
		for _, s := range c.Commands() {
			pad = max(pad, len(s.Name()))
		}
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-*s  %s\n", pad, s.Name(), s.Short)
			}
		}
	}
	common, settings := splitFlags(c)
	if common.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", common.FlagUsagesWrapped(width))
	}
	if settings.HasAvailableFlags() {
		fmt.Fprintf(w, "\nSettings (every key this command reads; also from the --config file or VELTRIX_<KEY>):\n%s", settings.FlagUsagesWrapped(width))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nUse \"%s [command] --help\" for more about a command.\n", c.CommandPath())
	}
}

// splitFlags sorts c's flags, inherited ones included, into the common
// ones (the command's own, and settings' short names) and the settings by
// full key, in schema order. A long name hidden behind its short name is
// shown here again: this list is every key.
func splitFlags(c *cobra.Command) (common, settings *pflag.FlagSet) {
	common = pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	settings = pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	settings.SortFlags = false
	byName := map[string]*pflag.Flag{}
	add := func(f *pflag.Flag) {
		if _, ok := byName[f.Name]; ok {
			return
		}
		byName[f.Name] = f
		if setting, short := config.IsSetting(f); !setting || short {
			common.AddFlag(f)
		}
	}
	c.NonInheritedFlags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	for _, s := range config.Schema {
		f := byName[s.Key]
		if f == nil {
			continue
		}
		if setting, short := config.IsSetting(f); !setting || short {
			continue // a flag of the command's own that shares a key's name
		}
		shown := *f
		shown.Hidden = false
		if s.Flag != "" {
			if sf := byName[s.Flag]; sf != nil && sf != f {
				if _, short := config.IsSetting(sf); short {
					shown.Usage = strings.TrimSuffix(shown.Usage, "]") + "; or --" + s.Flag + "]"
				}
			}
		}
		settings.AddFlag(&shown)
	}
	return common, settings
}
