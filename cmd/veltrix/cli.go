package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/veltrix/veltrix/internal/config"
)

// usageError is a command-line mistake: an unknown flag, command or
// argument. It exits 2, like an invalid configuration, and points at the
// command's --help.
type usageError struct{ error }

// fitCLI makes every command of root treat command-line mistakes alike: an
// unknown flag or argument is a usageError with a "did you mean" where one
// is close, and --help renders through usage (common flags first, every
// key after). Call it once the tree is built, so commands added later by
// other files are covered too.
func fitCLI(root *cobra.Command) {
	root.SetFlagErrorFunc(flagError)
	root.SetUsageFunc(usage)
	walk(root, func(c *cobra.Command) {
		c.SuggestionsMinimumDistance = 2
		if c.Args == nil || c.HasSubCommands() {
			return
		}
		args := c.Args
		c.Args = func(cmd *cobra.Command, a []string) error {
			if err := args(cmd, a); err != nil {
				return usageError{fmt.Errorf("unexpected argument %q: %q takes none (flags start with --; a switch takes its value after =, as in --topic.create=false)", a[0], cmd.CommandPath())}
			}
			return nil
		}
	})
}

// walk calls f for c and every command below it.
func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, s := range c.Commands() {
		walk(s, f)
	}
}

// flagError turns pflag's parse errors into usage errors, naming the
// closest flag for an unknown one.
func flagError(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		name := ne.GetSpecifiedName()
		if s := config.SuggestFlag(cmd.Flags(), name); s != "" && len(name) > 1 {
			return usageError{fmt.Errorf("%w; did you mean --%s? (see %s --help)", err, s, cmd.CommandPath())}
		}
	}
	return usageError{fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
}

// checkCommand reports an unknown subcommand, with the closest one, before
// cobra runs: cobra itself says so only at the root, and shows a group's
// help (exit 0) for "veltrix config explian".
func checkCommand(root *cobra.Command, args []string) error {
	cmd, rest, err := root.Find(args)
	if err != nil && cmd == nil {
		return usageError{err}
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return nil
	}
	word := firstWord(cmd, rest)
	if word == "" {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", word, cmd.CommandPath())
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	var names []string
	for _, s := range cmd.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return usageError{fmt.Errorf("%s (commands: %s)", msg, strings.Join(names, ", "))}
}

// firstWord returns the first argument that is neither a flag nor a
// flag's value, or "".
func firstWord(cmd *cobra.Command, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case strings.HasPrefix(a, "-"):
			if strings.Contains(a, "=") {
				continue
			}
			if f := lookupFlag(cmd, a); f != nil && f.NoOptDefVal == "" {
				i++ // its value
			}
		default:
			return a
		}
	}
	return ""
}

// lookupFlag finds the flag that arg (--name or -n) names on cmd,
// inherited ones included.
func lookupFlag(cmd *cobra.Command, arg string) *pflag.Flag {
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
		if name, ok := strings.CutPrefix(arg, "--"); ok {
			if f := fs.Lookup(name); f != nil {
				return f
			}
		} else if s := strings.TrimPrefix(arg, "-"); len(s) == 1 {
			if f := fs.ShorthandLookup(s); f != nil {
				return f
			}
		}
	}
	return nil
}

// joinSwitches rewrites "--switch false" as "--switch=false" for the bool
// flags of the command args run. pflag takes a bare switch as true and
// "false" as an argument, so "--topic.create false" would fail as an
// unexpected argument, or worse, be read as true.
func joinSwitches(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return args
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && i+1 < len(args) {
			if f := lookupFlag(cmd, a); f != nil && f.Value.Type() == "bool" {
				if v := args[i+1]; v == "true" || v == "false" {
					out = append(out, a+"="+v)
					i++
					continue
				}
			}
		}
		out = append(out, a)
	}
	return out
}
