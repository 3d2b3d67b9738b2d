package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/dlq"
	"github.com/veltrix/veltrix/pkg/kafka"
)

func newDLQ() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect and replay the dead letters of processor.on_failure=dlq",
		Long: `Under processor.on_failure=dlq a record that fails every attempt is written to
the dead-letter topic (processor.dlq_topic, default <topic>.dlq) with its key,
value and headers unchanged, plus headers naming its source topic, partition
and offset, the error, the attempts and the time (veltrix-dlq-*).

'dlq inspect' lists them and counts them by error; 'dlq replay' sends them
back once the handler or the data is fixed.`,
		Example: `  veltrix dlq inspect --brokers 127.0.0.1:9092 --topic events.dlq --since 1h
  veltrix dlq replay --brokers 127.0.0.1:9092 --topic events.dlq --execute`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newDLQInspect(), newDLQReplay())
	return cmd
}

func newDLQInspect() *cobra.Command {
	var topic, since string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "List the dead letters of a topic and count them by error",
		Long: `inspect reads the dead-letter topic --topic from its start (or from --since)
to its current end, without a consumer group, and prints:

  - the dead letters counted by error, most frequent first, with their source
    topics;
  - a table of the first --limit dead letters, oldest first: where each sits
    in the dead-letter topic, its source topic/partition@offset, the error,
    the handler attempts, earlier replays, when it failed, the key and a
    preview of the value (text, or hex for binary data).

--json prints the same as one JSON object for tools. A topic whose records
carry no dead-letter headers is refused (exit 1): it is not a dead-letter
topic.`,
		Example: `  veltrix dlq inspect --brokers 127.0.0.1:9092 --topic events.dlq
  veltrix dlq inspect --brokers 127.0.0.1:9092 --topic events.dlq --since 1h --limit 10
  veltrix dlq inspect --brokers 127.0.0.1:9092 --topic events.dlq --json | jq '.by_error'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: want 0 (all) or more", limit)}
			}
			from, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			d, err := openDLQ(cmd, topic)
			if err != nil {
				return err
			}
			defer d.close()
			s, err := dlq.Inspect(d.ctx, d.cl, d.opts, topic, dlq.InspectConfig{Since: from, Limit: limit})
			if err != nil {
				return fmt.Errorf("inspecting dead letters: %w", err)
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(s)
			}
			printInspect(cmd.OutOrStdout(), s)
			return nil
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "the dead-letter topic to read (required), e.g. events.dlq")
	cmd.Flags().StringVar(&since, "since", "", "only dead letters written in this last duration (1h, 30m) or since this RFC 3339 time")
	cmd.Flags().IntVar(&limit, "limit", 50, "list at most this many dead letters, oldest first (0: all); the counts cover every one")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	config.AddFlags(cmd.Flags(), []string{"kafka.", "log."})
	return cmd
}

func newDLQReplay() *cobra.Command {
	var topic, since, to, filter string
	var maxReplays int
	var execute, asJSON bool
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Send dead letters back to their source topic or another one (dry run unless --execute)",
		Long: `replay reads the dead-letter topic --topic (from --since, if given) and
re-produces each dead letter: its original key, value and headers, byte for
byte, to the topic it came from — to its original partition, so its key keeps
its order there — or to --to, partitioned by key.

The dead-letter headers (veltrix-dlq-*) are stripped: if the record fails
again, the engine writes a fresh dead letter with fresh ones. Two headers are
added: veltrix-replay-count (1 on the first replay, one more on each replay of
a replay) and veltrix-replay-of (dead-letter topic/partition/offset). A dead
letter whose record was already replayed --max-replays times is skipped and
listed, so a record that keeps failing does not circle for ever.

Without --execute nothing is written: replay reports what it would send where.
With it, records go through an idempotent producer with acks=all, and replay
reports how many were written and acknowledged, and which failed (exit 1 if
any did). Every target topic must exist before anything is written.

replay does not remember what it replayed: running --execute twice over the
same dead letters writes them twice. Use --since to take only newer ones.`,
		Example: `  veltrix dlq replay --brokers 127.0.0.1:9092 --topic events.dlq
  veltrix dlq replay --brokers 127.0.0.1:9092 --topic events.dlq --execute
  veltrix dlq replay --brokers 127.0.0.1:9092 --topic events.dlq --since 2h --filter-error 'timeout|connection refused' --execute
  veltrix dlq replay --brokers 127.0.0.1:9092 --topic events.dlq --to events-retry --execute --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if maxReplays < 1 {
				return usageError{fmt.Errorf("--max-replays %d: want at least 1", maxReplays)}
			}
			var err error
			rc := dlq.ReplayConfig{To: to, MaxReplays: maxReplays, Execute: execute}
			if filter != "" {
				if rc.FilterError, err = regexp.Compile(filter); err != nil {
					return usageError{fmt.Errorf("--filter-error %q: want a regular expression: %w", filter, err)}
				}
			}
			if rc.Since, err = parseSince(since, time.Now()); err != nil {
				return err
			}
			if to != "" && to == topic {
				return usageError{fmt.Errorf("--to %q is the dead-letter topic itself", to)}
			}
			d, err := openDLQ(cmd, topic)
			if err != nil {
				return err
			}
			defer d.close()
			res, err := dlq.Replay(d.ctx, d.cl, d.opts, topic, rc)
			if err != nil && res.Replayed == 0 && res.Failed == 0 {
				// Nothing was written: the error is the whole story.
				return fmt.Errorf("replaying dead letters: %w", err)
			}
			if asJSON {
				if jerr := json.NewEncoder(cmd.OutOrStdout()).Encode(res); jerr != nil {
					return jerr
				}
			} else {
				printReplay(cmd.OutOrStdout(), res, maxReplays)
			}
			if err != nil {
				return fmt.Errorf("replaying dead letters: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "the dead-letter topic to read (required), e.g. events.dlq")
	cmd.Flags().StringVar(&to, "to", "", "write every record to this topic (default: back to the topic and partition each came from)")
	cmd.Flags().StringVar(&since, "since", "", "only dead letters written in this last duration (1h, 30m) or since this RFC 3339 time")
	cmd.Flags().StringVar(&filter, "filter-error", "", "only dead letters whose error matches this regular expression")
	cmd.Flags().IntVar(&maxReplays, "max-replays", dlq.DefaultMaxReplays, "skip a dead letter whose record was already replayed this many times (its veltrix-replay-count header)")
	cmd.Flags().BoolVar(&execute, "execute", false, "write the records; without it replay is a dry run that writes nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	config.AddFlags(cmd.Flags(), []string{"kafka.", "log."})
	return cmd
}

// dlqConn is what inspect and replay share once their own flags are checked:
// the dead-letter topic named, the configuration loaded, a client connected
// and the options their readers are built from.
type dlqConn struct {
	ctx  context.Context
	stop context.CancelFunc
	cl   *kgo.Client
	opts []kgo.Opt
}

func openDLQ(cmd *cobra.Command, topic string) (*dlqConn, error) {
	l, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	if topic == "" {
		return nil, usageError{fmt.Errorf("--topic is required: the dead-letter topic to read")}
	}
	opts, err := kafka.Options(l.Config.Kafka)
	if err != nil {
		return nil, err
	}
	ctx, stop := signalContext(cmd.ErrOrStderr())
	cl, err := kafka.Connect(ctx, l.Config.Kafka)
	if err != nil {
		stop()
		return nil, err
	}
	return &dlqConn{ctx: ctx, stop: stop, cl: cl, opts: opts}, nil
}

func (d *dlqConn) close() {
	d.cl.Close()
	d.stop()
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time;
// "" is the zero time (everything).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, usageError{fmt.Errorf("--since %q: want a positive duration", s)}
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("--since %q: want a duration (1h, 30m) or an RFC 3339 time (2026-01-02T15:04:05Z)", s)}
	}
	if t.After(now) {
		return time.Time{}, usageError{fmt.Errorf("--since %q is in the future", s)}
	}
	return t, nil
}

// errorColumn bounds the error column of the dead-letter table.
const errorColumn = 60

func printInspect(w io.Writer, s dlq.Summary) {
	window := "from its start"
	if s.Since != nil {
		window = "since " + s.Since.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%s: %d dead letters %s", s.Topic, s.DeadLetters, window)
	if s.Replayed > 0 {
		fmt.Fprintf(w, ", %d of them replayed before", s.Replayed)
	}
	if s.Other > 0 {
		fmt.Fprintf(w, "; %d other records without dead-letter headers", s.Other)
	}
	fmt.Fprintln(w)
	if s.DeadLetters == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COUNT\tERROR\tSOURCE TOPICS")
	for _, c := range s.ByError {
		var src []string
		for t, n := range c.Sources {
			src = append(src, fmt.Sprintf("%s (%d)", t, n))
		}
		slices.Sort(src)
		fmt.Fprintf(tw, "%d\t%s\t%s\n", c.Count, oneLine(c.Error, errorColumn), strings.Join(src, ", "))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DLQ\tSOURCE\tERROR\tATTEMPTS\tREPLAYS\tFAILED-AT\tKEY\tVALUE")
	for _, r := range s.Letters {
		failed := "-"
		if !r.FailedAt.IsZero() {
			failed = r.FailedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(tw, "%d@%d\t%s/%d@%d\t%s\t%d\t%d\t%s\t%s\t%s\n", r.Partition, r.Offset,
			r.Source.Topic, r.Source.Partition, r.Source.Offset, oneLine(r.Error, errorColumn),
			r.Attempts, r.Replays, failed, r.Key, valueCell(r))
	}
	tw.Flush()
	if s.More > 0 {
		fmt.Fprintf(w, "... and %d more (--limit 0 lists all)\n", s.More)
	}
}

// valueCell is a value's preview with its size.
func valueCell(r dlq.Row) string {
	if r.ValueBytes > dlq.PreviewBytes && !strings.Contains(r.ValuePreview, "bytes)") {
		return fmt.Sprintf("%s (%d bytes)", r.ValuePreview, r.ValueBytes)
	}
	return r.ValuePreview
}

// oneLine fits s on one table line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func printReplay(w io.Writer, r dlq.Result, maxReplays int) {
	var targets []string
	for t, n := range r.Targets {
		targets = append(targets, fmt.Sprintf("%s (%d)", t, n))
	}
	slices.Sort(targets)
	to := strings.Join(targets, ", ")
	if r.Execute {
		fmt.Fprintf(w, "replayed %d of %d dead letters from %s", r.Replayed, r.Selected, r.Topic)
		if to != "" {
			fmt.Fprintf(w, " to %s", to)
		}
		fmt.Fprintf(w, "; %d failed\n", r.Failed)
	} else {
		fmt.Fprintf(w, "dry run: would replay %d dead letters from %s", r.Selected, r.Topic)
		if to != "" {
			fmt.Fprintf(w, " to %s", to)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "read %d records: %d not dead letters, %d not matching --filter-error, %d over the replay cap (%d)\n",
		r.Read, r.Other, r.Filtered, r.Capped, maxReplays)
	list := func(title string, refs []dlq.Ref, total int) {
		if len(refs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DLQ\tSOURCE\tREPLAYS\tREASON")
		for _, f := range refs {
			fmt.Fprintf(tw, "%d@%d\t%s/%d@%d\t%d\t%s\n", f.Partition, f.Offset, f.Source.Topic, f.Source.Partition, f.Source.Offset, f.Replays, f.Reason)
		}
		tw.Flush()
		if total > len(refs) {
			fmt.Fprintf(w, "... and %d more\n", total-len(refs))
		}
	}
	list("skipped, over the replay cap", r.Skipped, r.Capped)
	list("failed", r.Failures, r.Failed)
	if !r.Execute && r.Selected > 0 {
		fmt.Fprintln(w, "\nnothing written; run again with --execute to replay")
	}
}
