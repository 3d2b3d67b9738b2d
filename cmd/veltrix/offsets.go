package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/offsets"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// offsetsKeys are the settings the offsets commands read: how to connect,
// where a partition with no commit would start (lag.reset), and logging.
var offsetsKeys = []string{"kafka.", "lag.reset", "log."}

func newOffsets() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "offsets",
		Short: "Show a consumer group's offsets, or move them safely (dry run by default)",
		Long: `offsets shows where a consumer group stands on each partition (show) and
moves its committed offsets (reset): to replay records, to skip them, or to
step a halted partition past the record it halted on.

A reset is planned first and printed: partition, from, to, and how many
offsets that skips or replays. Nothing changes without --execute. A reset
needs a group with no live members (stop every processor of the group first),
and never moves an offset outside the partition's [log start, end]: a target
beyond either bound is clamped to it, and the plan says so.`,
		Example: `  veltrix offsets show --brokers 127.0.0.1:9092 --group billing
  veltrix offsets reset --brokers 127.0.0.1:9092 --group billing --topic events --to-datetime 2026-12-01T09:00:00Z
  veltrix offsets reset --brokers 127.0.0.1:9092 --group billing --topic events --skip-halted --partitions 3 --execute`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newOffsetsShow(), newOffsetsReset())
	return cmd
}

func newOffsetsShow() *cobra.Command {
	var group, topic string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Committed offset, log start, log end and lag of each partition of a group",
		Long: `show reads one group's committed offsets with the reader veltrix lag uses,
and prints per partition: the committed offset ("-" when none: the group
would start at lag.reset), the log start and end offsets (end is the last
stable offset), the lag and time lag, and the member that owns it.

With --topic it shows every partition of that topic, committed to or not;
without, every partition the group has committed to or is assigned.`,
		Example: `  veltrix offsets show --brokers 127.0.0.1:9092 --group billing
  veltrix offsets show --brokers 127.0.0.1:9092 --group billing --topic orders --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if group == "" {
				return usageError{fmt.Errorf("--group is required")}
			}
			ctx, stop := signalContext(cmd.ErrOrStderr())
			defer stop()
			cl, st, err := readGroup(ctx, l, group, topic)
			if err != nil {
				return err
			}
			defer cl.Close()
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(showView(st))
			}
			printShow(cmd.OutOrStdout(), st)
			return nil
		},
	}
	cmd.Flags().StringVar(&group, "group", "", "consumer group id (required)")
	cmd.Flags().StringVar(&topic, "topic", "", "show only this topic, with every one of its partitions")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	config.AddFlags(cmd.Flags(), offsetsKeys)
	return cmd
}

func printShow(w io.Writer, st *offsets.State) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tLOG-START\tLOG-END\tLAG\tTIME-LAG\tOWNER")
	uncommitted := false
	var notes []string
	for _, p := range st.Partitions {
		cur := "-"
		if p.HasCommit {
			cur = strconv.FormatInt(p.Committed, 10)
		} else {
			uncommitted = true
		}
		lagText, tl := strconv.FormatInt(p.Lag, 10), "?"
		if p.Err != "" {
			lagText = "-"
			notes = append(notes, fmt.Sprintf("%s/%d: %s", p.Topic, p.Partition, p.Err))
		} else if p.TimeLagKnown {
			tl = formatLag(p.TimeLag(st.At))
		}
		if p.Lost > 0 {
			notes = append(notes, fmt.Sprintf("%s/%d: %d records deleted by retention before the group read them", p.Topic, p.Partition, p.Lost))
		}
		owner := p.Owner
		if owner == "" {
			owner = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%s\t%s\n", p.Topic, p.Partition, cur, p.Start, p.End, lagText, tl, owner)
	}
	_ = tw.Flush()
	state := st.GroupState
	if state == "" {
		state = "unknown"
	}
	fmt.Fprintf(w, "group %s: state %s, %d live member(s)\n", st.Group, state, len(st.Members))
	for _, m := range st.Members {
		fmt.Fprintf(w, "  member %s on %s (%s)\n", m.ClientID, m.Host, m.ID)
	}
	if uncommitted {
		fmt.Fprintln(w, "- no committed offset: lag counted from where the group would start (lag.reset)")
	}
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// showJSON is the --json form of offsets show.
type showJSON struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Members    []lag.Member   `json:"members"`
	Partitions []showPartJSON `json:"partitions"`
}

type showPartJSON struct {
	Topic          string   `json:"topic"`
	Partition      int32    `json:"partition"`
	Committed      *int64   `json:"committed"` // null: nothing committed
	LogStartOffset int64    `json:"log_start_offset"`
	LogEndOffset   int64    `json:"log_end_offset"`
	Lag            int64    `json:"lag"`
	LostRecords    int64    `json:"lost_records"`
	TimeLagSeconds *float64 `json:"time_lag_seconds"` // null: not known
	ClientID       string   `json:"client_id,omitempty"`
	Error          string   `json:"error,omitempty"`
}

func showView(st *offsets.State) showJSON {
	out := showJSON{Group: st.Group, State: st.GroupState, Members: st.Members, Partitions: []showPartJSON{}}
	if out.Members == nil {
		out.Members = []lag.Member{}
	}
	for _, p := range st.Partitions {
		pj := showPartJSON{Topic: p.Topic, Partition: p.Partition, LogStartOffset: p.Start, LogEndOffset: p.End,
			Lag: p.Lag, LostRecords: p.Lost, ClientID: p.Owner, Error: p.Err}
		if p.HasCommit {
			pj.Committed = &p.Committed
		}
		if p.TimeLagKnown {
			sec := p.TimeLag(st.At).Seconds()
			pj.TimeLagSeconds = &sec
		}
		out.Partitions = append(out.Partitions, pj)
	}
	return out
}

func newOffsetsReset() *cobra.Command {
	var group, topic, datetime, metricsFile string
	var earliest, latest, skipHalted, execute, asJSON bool
	var toOffset, shiftBy int64
	var parts []int32
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Plan, and with --execute apply, a move of a group's committed offsets",
		Long: `reset moves the committed offsets of --group on --topic to exactly one target:

  --to-earliest         the log start: replay everything still kept
  --to-latest           the log end (last stable offset): skip everything unread
  --to-offset N         offset N on every chosen partition
  --to-datetime TIME    each partition's first record stamped at or after TIME
                        (RFC 3339, e.g. 2026-03-01T14:00:00Z; not in the future)
  --shift-by N          N offsets forward (skip) or, negative, back (replay)
  --skip-halted         just past the record each halted partition stopped on;
                        needs --partitions naming the halted partitions

--partitions 0,3 narrows any target to those partitions (default: all of them).

Without --execute it only prints the plan. With --execute it commits the plan
as the group's offsets, writes one audit line to stderr (who, as user@host;
group, topic, target, every partition's from and to; the line's time) and
counts the reset in veltrix_offset_resets_total (written to --metrics-file,
if given, for node_exporter's textfile collector).

Safety: the group must have no live members (Kafka refuses too, and a live
member would overwrite the reset with its own position); the members are
named when there are some. No offset leaves [log start, end]: a target beyond
a bound is clamped to that bound and the plan's row says "clamped". SKIPPED
and REPLAYED count offsets, so transaction markers count too.

--skip-halted: a partition stopped by processor.on_failure=halt has its
committed offset at the record it halted on (the engine commits everything
before that record, within processor.commit.interval, and nothing after).
A veltrix processor notes each halt in the commit of that record's offset, so
without --partitions the reset takes the partitions noted as halted (veltrix
lag shows them); --partitions names them yourself (a member killed before its
commit, or another consumer). For each, the reset moves just past the first record a consumer reads from the
committed offset: that record and only it is skipped, whatever markers or
compaction gaps lie before it. The plan prints the record's offset: check it
against the "partition halted" log line before --execute. A named partition
with no commit, no record at its committed offset, or a commit below the log
start is refused.

Exit codes: 2 for a mistake in the flags (no target or two, a bad time or one
in the future); 1 when the cluster says no (unknown group or topic, live
members, a partition the topic lacks, --skip-halted with no partition noted
as halted).`,
		Example: `  # what would replay the last hour? (dry run: nothing changes)
  veltrix offsets reset --brokers 127.0.0.1:9092 --group billing --topic orders --to-datetime 2026-03-01T13:00:00Z

  # step partition 3, halted on a poison record, past it, and say so in the audit log
  veltrix offsets reset --brokers 127.0.0.1:9092 --group billing --topic orders --skip-halted --partitions 3 --execute

  # replay 100 records on partitions 0 and 1, for a script
  veltrix offsets reset --brokers 127.0.0.1:9092 --group billing --topic orders --shift-by -100 --partitions 0,1 --execute --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if group == "" || topic == "" {
				return usageError{fmt.Errorf("--group and --topic are required")}
			}
			target, err := resetTarget(cmd, earliest, latest, skipHalted, toOffset, shiftBy, datetime)
			if err != nil {
				return usageError{err}
			}
			if err := target.Validate(time.Now()); err != nil {
				return usageError{err}
			}
			for _, p := range parts {
				if p < 0 {
					return usageError{fmt.Errorf("--partitions %d: want partition numbers of 0 or more", p)}
				}
			}
			reg := prometheus.NewRegistry()
			om := metrics.NewOffsets(reg)
			if metricsFile != "" {
				if err := offsets.LoadTextfile(metricsFile, om); err != nil {
					return err
				}
			}

			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			ctx, stop := signalContext(stderr)
			defer stop()
			cl, st, err := readGroup(ctx, l, group, topic)
			if err != nil {
				return err
			}
			defer cl.Close()
			plan, err := offsets.Build(ctx, cl, st, topic, target, parts)
			if err != nil {
				return err
			}
			if !asJSON {
				printResetPlan(stdout, plan, execute)
			}
			if !execute {
				if asJSON {
					return json.NewEncoder(stdout).Encode(resetView(plan, false, nil))
				}
				return nil
			}
			// The audit line is written whatever log.level says: an applied
			// reset is never silent.
			auditLog := newLogger(config.LogConfig{Level: "info", Format: l.Config.Log.Format}, stderr)
			res, err := offsets.Apply(ctx, cl, plan, offsets.ApplyOptions{Audit: auditLog, Metrics: om})
			if metricsFile != "" && len(res.Committed) > 0 {
				if werr := offsets.WriteTextfile(metricsFile, reg); werr != nil {
					fmt.Fprintln(stderr, "veltrix:", werr)
				}
			}
			if asJSON {
				_ = json.NewEncoder(stdout).Encode(resetView(plan, true, res.Committed))
			} else if err == nil {
				if len(res.Committed) == 0 {
					fmt.Fprintln(stdout, "nothing to change: no offsets committed")
				} else {
					fmt.Fprintf(stdout, "applied: committed %d partition(s) of group %s on %s\n", len(res.Committed), plan.Group, plan.Topic)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&group, "group", "", "consumer group id (required)")
	f.StringVar(&topic, "topic", "", "topic whose offsets move (required)")
	f.BoolVar(&earliest, "to-earliest", false, "target: the log start")
	f.BoolVar(&latest, "to-latest", false, "target: the log end (last stable offset)")
	f.Int64Var(&toOffset, "to-offset", 0, "target: this offset on every chosen partition")
	f.StringVar(&datetime, "to-datetime", "", "target: the first record stamped at or after this RFC 3339 time")
	f.Int64Var(&shiftBy, "shift-by", 0, "target: move by this many offsets (negative replays)")
	f.BoolVar(&skipHalted, "skip-halted", false, "target: just past the record each named halted partition stopped on (needs --partitions)")
	f.Int32SliceVar(&parts, "partitions", nil, "only these partitions, e.g. 0,3 (default all)")
	f.BoolVar(&execute, "execute", false, "apply the plan (without it, only print it)")
	f.BoolVar(&asJSON, "json", false, "print the plan (and what was committed) as one JSON object")
	f.StringVar(&metricsFile, "metrics-file", "", "add the applied reset to veltrix_offset_resets_total in this node_exporter textfile (*.prom)")
	config.AddFlags(f, offsetsKeys)
	return cmd
}

// resetTarget reads the one target flag that was given.
func resetTarget(cmd *cobra.Command, earliest, latest, skipHalted bool, toOffset, shiftBy int64, datetime string) (offsets.Target, error) {
	var set []string
	for _, k := range offsets.Kinds {
		if cmd.Flags().Changed(string(k)) {
			set = append(set, "--"+string(k))
		}
	}
	switch len(set) {
	case 0:
		return offsets.Target{}, fmt.Errorf("give one target: --to-earliest, --to-latest, --to-offset N, --to-datetime TIME, --shift-by N or --skip-halted")
	case 1:
	default:
		return offsets.Target{}, fmt.Errorf("give exactly one target, not %d: %v", len(set), set)
	}
	switch {
	case earliest:
		return offsets.Target{Kind: offsets.ToEarliest}, nil
	case latest:
		return offsets.Target{Kind: offsets.ToLatest}, nil
	case skipHalted:
		return offsets.Target{Kind: offsets.SkipHalted}, nil
	case cmd.Flags().Changed("to-offset"):
		return offsets.Target{Kind: offsets.ToOffset, Offset: toOffset}, nil
	case cmd.Flags().Changed("shift-by"):
		return offsets.Target{Kind: offsets.ShiftBy, Shift: shiftBy}, nil
	case cmd.Flags().Changed("to-datetime"):
		t, err := time.Parse(time.RFC3339Nano, datetime)
		if err != nil {
			return offsets.Target{}, fmt.Errorf("--to-datetime %q: want an RFC 3339 time such as 2026-03-01T14:00:00Z: %w", datetime, err)
		}
		return offsets.Target{Kind: offsets.ToDatetime, Time: t}, nil
	}
	// A boolean target given as =false.
	return offsets.Target{}, fmt.Errorf("%s=false is not a target: give one target", set[0])
}

func printResetPlan(w io.Writer, p *offsets.Plan, execute bool) {
	mode := "dry run: nothing changes without --execute"
	if execute {
		mode = "applying"
	}
	fmt.Fprintf(w, "reset group %s on %s: %s (%s)\n", p.Group, p.Topic, p.Target, mode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tFROM\tTO\tLOG-START\tLOG-END\tSKIPPED\tREPLAYED\tNOTE")
	for _, r := range p.Rows {
		from := strconv.FormatInt(r.From, 10)
		if !r.HasCommit {
			from = "-"
		}
		note := r.Note
		if r.Clamped != offsets.ClampNone {
			c := fmt.Sprintf("clamped to the %s (target %d)", r.Clamped, r.Wanted)
			if note != "" {
				note = c + "; " + note
			} else {
				note = c
			}
		}
		if !r.Changes() {
			note = strings.TrimSuffix("unchanged; "+note, "; ")
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Partition, from, r.To, r.Start, r.End, r.Skipped(), r.Replayed(), note)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "total: %d skipped, %d replayed on %d partition(s) to change\n", p.Skipped(), p.Replayed(), len(p.Changes()))
}

// resetJSON is the --json form of offsets reset.
type resetJSON struct {
	Group      string          `json:"group"`
	Topic      string          `json:"topic"`
	Target     string          `json:"target"`
	Kind       offsets.Kind    `json:"kind"`
	Executed   bool            `json:"executed"`
	Skipped    int64           `json:"skipped"`
	Replayed   int64           `json:"replayed"`
	Committed  int             `json:"committed_partitions"`
	Partitions []resetPartJSON `json:"partitions"`
}

type resetPartJSON struct {
	Partition      int32  `json:"partition"`
	From           *int64 `json:"from"` // null: nothing committed
	To             int64  `json:"to"`
	Wanted         int64  `json:"wanted"`
	LogStartOffset int64  `json:"log_start_offset"`
	LogEndOffset   int64  `json:"log_end_offset"`
	Clamped        string `json:"clamped,omitempty"` // "log start" or "log end"
	Skipped        int64  `json:"skipped"`
	Replayed       int64  `json:"replayed"`
	Changes        bool   `json:"changes"`
	Committed      bool   `json:"committed"`
	Note           string `json:"note,omitempty"`
}

func resetView(p *offsets.Plan, executed bool, committed []offsets.Row) resetJSON {
	done := map[int32]bool{}
	for _, r := range committed {
		done[r.Partition] = true
	}
	out := resetJSON{Group: p.Group, Topic: p.Topic, Target: p.Target.String(), Kind: p.Target.Kind, Executed: executed,
		Skipped: p.Skipped(), Replayed: p.Replayed(), Committed: len(committed), Partitions: []resetPartJSON{}}
	for _, r := range p.Rows {
		pj := resetPartJSON{Partition: r.Partition, To: r.To, Wanted: r.Wanted, LogStartOffset: r.Start, LogEndOffset: r.End,
			Clamped: string(r.Clamped), Skipped: r.Skipped(), Replayed: r.Replayed(), Changes: r.Changes(),
			Committed: done[r.Partition], Note: r.Note}
		if r.HasCommit {
			from := r.From
			pj.From = &from
		}
		out.Partitions = append(out.Partitions, pj)
	}
	return out
}

// readGroup connects with the configured connection settings and reads
// group's offsets on topic ("" for all its topics). The caller closes the
// client.
func readGroup(ctx context.Context, l *config.Loaded, group, topic string) (*kgo.Client, *offsets.State, error) {
	kc := l.Config.Kafka
	kc.ClientID += "-offsets"
	cl, err := kafka.Connect(ctx, kc)
	if err != nil {
		return nil, nil, err
	}
	st, err := offsets.Read(ctx, cl, group, topic, l.Config.Lag)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return cl, st, nil
}
