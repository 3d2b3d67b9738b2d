package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/server"
	"github.com/veltrix/veltrix/pkg/autoscale"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/metrics"
)

func newLag() *cobra.Command {
	var once, watch, asJSON bool
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Offset lag, time lag and health of consumer groups: a Prometheus exporter or a terminal table",
		Long: `lag watches every consumer group whose id matches --group and measures,
per topic and partition:

  - offset lag: last stable offset minus the committed offset, never negative;
    a partition with no commit counts from lag.reset (earliest: the log start)
    and shows CURRENT-OFFSET "-"; a commit below the log start is data lost
    to retention and is flagged;
  - time lag: now minus the timestamp of the next record the group has to
    read (0 when caught up), exact when the producer is idle and growing
    while the group's consumers are down;
  - health: STOP (lag and nobody consuming: at the next poll for a group with
    no members, after lag.window polls for an unowned partition), STALL (a
    member owns the partition but its offset has not moved for lag.window
    polls), WARN (time lag above lag.warn_time_lag, or lag rising over the
    window while committing), REWIND (committed offset went back), ERR
    (offsets unreadable), else OK. A group is its worst partition.

--topic, --topic.names or --topic.pattern (one of them; the pattern matches
whole names) keeps only those topics: each group's partitions of other
topics are left out, and its totals and status count only the kept ones.
Without them every topic a group commits to, is assigned or subscribes to is
reported — all the topics of a group consuming several.

--group is a Go regular expression matched anywhere in the group id, not
anchored: 'billing' also matches 'old-billing-2'; write '^billing$' for
exactly one group. When --once or --watch match no group, the groups that
exist are listed and lag exits 1.

Groups with no members keep reporting: the lag of a stopped group is the
number that matters most.

By default lag is a Prometheus exporter on --serve (/metrics, /healthz, and
/readyz once the first poll is done), polling every lag.interval. --once
prints one table like kafka-consumer-groups --describe, plus TIME-LAG and
STATUS and a TOTAL row, and exits (when a group has lag and no members it
polls a second time, min(lag.interval, 2s) later, to see whether anyone
commits); --watch reprints the table every lag.interval under a header with
the time and the interval. --json prints the poll as JSON.`,
		Example: `  veltrix lag --brokers 127.0.0.1:9092 --serve :9465
  veltrix lag --brokers 127.0.0.1:9092 --once --group '^billing'
  veltrix lag --brokers 127.0.0.1:9092 --watch --lag.interval 2s --lag.window 5
  veltrix lag --brokers 127.0.0.1:9092 --once --json
  veltrix lag --brokers 127.0.0.1:9092 --once --group '^billing$' --topic.pattern 'orders-.*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			c := l.Config
			if once && watch {
				return usageError{fmt.Errorf("--once and --watch exclude each other")}
			}
			if _, err := regexp.Compile(c.Lag.Groups); err != nil {
				return &config.Error{Problems: []config.Problem{{Key: "lag.groups", Value: c.Lag.Groups,
					Source: l.Sources["lag.groups"], Rule: "want a regular expression: " + err.Error()}}}
			}
			topics := lagTopics(l)
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			log := newLogger(c.Log, stderr)
			ctx, stop := signalContext(stderr)
			defer stop()

			reg := metrics.NewRegistry()
			kc := c.Kafka
			kc.ClientID = c.Kafka.ClientID + "-lag"
			cl, err := kafka.Connect(ctx, kc, metrics.New(reg).ClientHooks())
			if err != nil {
				return err
			}
			defer cl.Close()

			if once || watch {
				mon, err := lag.New(cl, c.Lag, lag.Options{Logger: log, Topics: topics})
				if err != nil {
					return err
				}
				existing := func(ctx context.Context) ([]string, error) {
					listed, err := kadm.NewClient(cl).ListGroups(ctx)
					if err != nil {
						return nil, fmt.Errorf("listing groups: %w", err)
					}
					return listed.Groups(), nil
				}
				return lagTable(ctx, mon, lagTableOptions{interval: c.Lag.Interval, window: c.Lag.Window,
					pattern: c.Lag.Groups, watch: watch, asJSON: asJSON, existing: existing}, stdout)
			}

			started := time.Now()
			mon, err := lag.New(cl, c.Lag, lag.Options{Registerer: reg, Logger: log, Topics: topics})
			if err != nil {
				return err
			}
			scaler, err := autoscale.New(c.Autoscale, c.Lag.Interval)
			if err != nil {
				return err
			}
			if err := reg.Register(autoscale.NewCollector(mon, scaler)); err != nil {
				return fmt.Errorf("registering the autoscale collector: %w", err)
			}
			srv, err := server.Start(c.Lag.Serve, reg, server.Probes{Ready: mon.Fresh, Live: func() error { return mon.Polling(started) }}, statusMux(ctx, reg, "veltrix lag · cluster "+c.Lag.Cluster), server.Options{WebConfigFile: c.Metrics.WebConfigFile})
			if err != nil {
				return fmt.Errorf("%w (set --serve to another address)", err)
			}
			defer srv.Close()
			fmt.Fprintf(stderr, "veltrix lag: groups matching %q every %s, window %d polls, cluster %q; metrics at %s, status page at %s\n",
				c.Lag.Groups, c.Lag.Interval, c.Lag.Window, c.Lag.Cluster, srv.URL(), statusURL(srv))
			return mon.Run(ctx)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "poll once, print the table and exit")
	cmd.Flags().BoolVar(&watch, "watch", false, "reprint the table every lag.interval, with the time and a total row, until Ctrl-C")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --once or --watch: print each poll as one JSON object")
	config.AddFlags(cmd.Flags(), []string{"kafka.", "lag.", "autoscale.", "log.", "topic.name", "topic.names", "topic.pattern"})
	return cmd
}

// lagTopics is lag's topic filter: topic.pattern (whole names), topic.names,
// or topic.name when it was set (its default, events, filters nothing);
// nil, every topic, when none of them was. The config rules already made
// sure at most one is set and the pattern compiles.
func lagTopics(l *config.Loaded) func(string) bool {
	t := l.Config.Topic
	switch {
	case t.Pattern != "":
		re := regexp.MustCompile("^(?:" + t.Pattern + ")$")
		return re.MatchString
	case len(t.Names) > 0:
		return func(topic string) bool { return slices.Contains(t.Names, topic) }
	case l.Sources["topic.name"].Layer != "default":
		return func(topic string) bool { return topic == t.Name }
	}
	return nil
}

// lagTableOptions are lagTable's settings.
type lagTableOptions struct {
	interval time.Duration
	window   int
	pattern  string // lag.groups, for the header and the no-match message
	watch    bool
	asJSON   bool
	// existing lists the group ids in the cluster, for the no-match message.
	existing func(context.Context) ([]string, error)
}

// errNoGroupMatches is returned when the first poll of --once or --watch
// found no group matching --group.
var errNoGroupMatches = errors.New("no consumer group matches")

// lagTable polls once, or every interval until ctx ends when watch is set,
// and prints each poll. When the first poll matches no group it lists the
// groups that exist and returns errNoGroupMatches.
func lagTable(ctx context.Context, mon *lag.Monitor, o lagTableOptions, w io.Writer) error {
	clear := o.watch && !o.asJSON && isTerminal(w)
	t := time.NewTicker(o.interval)
	defer t.Stop()
	for first := true; ; first = false {
		poll := mon.Poll
		if !o.watch {
			poll = mon.Once
		}
		s, err := poll(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil && !o.watch:
			return err
		case err != nil:
			fmt.Fprintln(w, "veltrix lag:", err)
		case first && len(s.Groups) == 0:
			return noGroupMatches(ctx, o, w)
		default:
			if clear {
				fmt.Fprint(w, "\033[H\033[2J")
			}
			switch {
			case o.asJSON:
				_ = json.NewEncoder(w).Encode(lagView(s))
			case o.watch:
				fmt.Fprintf(w, "veltrix lag  %s  every %s, window %d polls, groups matching %q\n\n",
					s.At.Local().Format("2006-01-02 15:04:05"), o.interval, o.window, o.pattern)
				printLagTable(w, s)
			default:
				printLagTable(w, s)
			}
		}
		if !o.watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if !clear && !o.asJSON {
				fmt.Fprintln(w)
			}
		}
	}
}

// noGroupMatches says that --group matched nothing, lists the groups the
// cluster has, and returns errNoGroupMatches.
func noGroupMatches(ctx context.Context, o lagTableOptions, w io.Writer) error {
	names, err := o.existing(ctx)
	if err != nil {
		return fmt.Errorf("%w %q (%w)", errNoGroupMatches, o.pattern, err)
	}
	slices.Sort(names)
	if len(names) == 0 {
		fmt.Fprintln(w, "the cluster has no consumer groups")
	} else {
		fmt.Fprintf(w, "groups in the cluster (%d):\n", len(names))
		for _, n := range names {
			fmt.Fprintln(w, " ", n)
		}
	}
	return fmt.Errorf("%w %q (a regular expression matched anywhere in the id; ^name$ for one group)", errNoGroupMatches, o.pattern)
}

// printLagTable prints s like kafka-consumer-groups --describe, with
// TIME-LAG and STATUS, then one note per group that needs one.
func printLagTable(w io.Writer, s *lag.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tTIME-LAG\tSTATUS\tCLIENT-ID")
	var notes []string
	uncommitted := false
	var (
		parts, sum  int64
		maxTL       time.Duration
		worstStatus lag.Status
	)
	for _, g := range s.Groups {
		worstStatus = max(worstStatus, g.Status)
		maxTL = max(maxTL, g.MaxTimeLag(s.At))
		if len(g.Partitions) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t%s\t-\n", g.Name, g.Status)
		}
		lost := int64(0)
		for _, p := range g.Partitions {
			parts++
			sum += p.Lag
			cur, lagText := "-", strconv.FormatInt(p.Lag, 10)
			if p.HasCommit {
				cur = strconv.FormatInt(p.Committed, 10)
			} else {
				lagText += "*"
				uncommitted = true
			}
			end, tl := strconv.FormatInt(p.End, 10), "?"
			if p.Err != "" {
				end, lagText = "-", "-"
				notes = append(notes, fmt.Sprintf("%s %s/%d: %s", g.Name, p.Topic, p.Partition, p.Err))
			} else if p.TimeLagKnown {
				tl = formatLag(p.TimeLag(s.At))
			}
			if h := p.Halted; h != nil {
				notes = append(notes, fmt.Sprintf("%s %s/%d: halted at offset %d since %s after %d attempts: %s (veltrix offsets reset --skip-halted moves past it)",
					g.Name, p.Topic, p.Partition, h.Offset, h.Since.Format(time.RFC3339), h.Attempts, h.Err))
			}
			owner := p.Owner
			if owner == "" {
				owner = "-"
			}
			lost += p.Lost
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Name, p.Topic, p.Partition, cur, end, lagText, tl, p.Status, owner)
		}
		state := g.State
		if state == "" {
			state = "unknown"
		}
		switch {
		case g.Err != "":
			notes = append(notes, fmt.Sprintf("%s: %s", g.Name, g.Err))
		case lost > 0:
			notes = append(notes, fmt.Sprintf("%s: %d records deleted by retention before the group read them (committed offset below the log start)", g.Name, lost))
		case len(g.Members) == 0 && len(g.Partitions) > 0:
			notes = append(notes, fmt.Sprintf("%s: no active members (state %s)", g.Name, state))
		}
	}
	if len(s.Groups) > 0 {
		fmt.Fprintf(tw, "TOTAL\t%d groups\t%d partitions\t\t\t%d\t%s\t%s\t\n", len(s.Groups), parts, sum, formatLag(maxTL), worstStatus)
	}
	_ = tw.Flush()
	if uncommitted {
		fmt.Fprintln(w, "* no committed offset: lag counted from where the group would start (lag.reset)")
	}
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
	if len(s.Groups) == 0 {
		fmt.Fprintln(w, "no consumer groups match")
	}
}

// formatLag rounds a time lag for reading: tenths of a second below a
// minute, whole seconds above.
func formatLag(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// lagJSON is the --json form of a poll: flat numbers, null for unknowns.
type lagJSON struct {
	Cluster string         `json:"cluster"`
	At      time.Time      `json:"at"`
	TookMs  float64        `json:"took_ms"`
	Groups  []lagGroupJSON `json:"groups"`
}

type lagGroupJSON struct {
	Group         string        `json:"group"`
	State         string        `json:"state"`
	Status        lag.Status    `json:"status"`
	Members       []lag.Member  `json:"members"`
	SumLag        int64         `json:"sum_lag"`
	MaxLag        int64         `json:"max_lag"`
	MaxLagSeconds float64       `json:"max_lag_seconds"`
	Partitions    []lagPartJSON `json:"partitions"`
	Error         string        `json:"error,omitempty"`
}

type lagPartJSON struct {
	Topic          string     `json:"topic"`
	Partition      int32      `json:"partition"`
	CurrentOffset  *int64     `json:"current_offset"` // null: nothing committed
	LogStartOffset int64      `json:"log_start_offset"`
	LogEndOffset   int64      `json:"log_end_offset"`
	Lag            int64      `json:"lag"`
	LostRecords    int64      `json:"lost_records"`
	TimeLagSeconds *float64   `json:"time_lag_seconds"` // null: not known
	Status         lag.Status `json:"status"`
	ClientID       string     `json:"client_id,omitempty"`
	Error          string     `json:"error,omitempty"`
}

func lagView(s *lag.Snapshot) lagJSON {
	out := lagJSON{Cluster: s.Cluster, At: s.At, TookMs: float64(s.Took.Microseconds()) / 1e3, Groups: []lagGroupJSON{}}
	for _, g := range s.Groups {
		gj := lagGroupJSON{Group: g.Name, State: g.State, Status: g.Status, Members: g.Members, SumLag: g.SumLag(),
			MaxLag: g.MaxLag(), MaxLagSeconds: g.MaxTimeLag(s.At).Seconds(), Partitions: []lagPartJSON{}, Error: g.Err}
		if gj.Members == nil {
			gj.Members = []lag.Member{}
		}
		for _, p := range g.Partitions {
			pj := lagPartJSON{Topic: p.Topic, Partition: p.Partition, LogStartOffset: p.Start, LogEndOffset: p.End,
				Lag: p.Lag, LostRecords: p.Lost, Status: p.Status, ClientID: p.Owner, Error: p.Err}
			if p.HasCommit {
				pj.CurrentOffset = &p.Committed
			}
			if p.TimeLagKnown {
				sec := p.TimeLag(s.At).Seconds()
				pj.TimeLagSeconds = &sec
			}
			gj.Partitions = append(gj.Partitions, pj)
		}
		out.Groups = append(out.Groups, gj)
	}
	return out
}
