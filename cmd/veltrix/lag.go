package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/server"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/metrics"
)

func newLag() *cobra.Command {
	var once, watch, asJSON bool
	cmd := &cobra.Command{
		Use:   "lag",
		Short: "Offset lag, time lag and health of consumer groups: a Prometheus exporter or a terminal table",
		Long: `lag watches every consumer group whose id matches --group (a regular
expression; default all) and measures, per topic and partition:

  - offset lag: last stable offset minus the committed offset, never negative;
    a partition with no commit counts from lag.reset (earliest: the log start)
    and shows CURRENT-OFFSET "-"; a commit below the log start is data lost
    to retention and is flagged;
  - time lag: now minus the timestamp of the next record the group has to
    read (0 when caught up), exact when the producer is idle and growing
    while the group's consumers are down;
  - health over the last lag.window polls: OK, WARN (lag rising while
    committing), REWIND (committed offset went back), STALL (a member owns
    the partition but the offset does not move while lag > 0), STOP (same,
    with no member), ERR (offsets unreadable). A group is its worst partition.

Groups with no members keep reporting: the lag of a stopped group is the
number that matters most.

By default lag is a Prometheus exporter on --serve (/metrics, /healthz, and
/readyz once the first poll is done), polling every lag.interval. --once
prints one table like kafka-consumer-groups --describe, plus TIME-LAG and
STATUS, and exits (statuses need lag.window polls of history, so a single
poll shows OK unless something is unreadable or went backwards); --watch
reprints the table every lag.interval. --json prints the poll as JSON.`,
		Example: `  veltrix lag --brokers 127.0.0.1:9092 --serve :9465
  veltrix lag --brokers 127.0.0.1:9092 --once --group '^billing'
  veltrix lag --brokers 127.0.0.1:9092 --watch --lag.interval 2s --lag.window 5
  veltrix lag --brokers 127.0.0.1:9092 --once --json`,
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
				mon, err := lag.New(cl, c.Lag, lag.Options{Logger: log})
				if err != nil {
					return err
				}
				return lagTable(ctx, mon, c.Lag.Interval, watch, asJSON, stdout)
			}

			mon, err := lag.New(cl, c.Lag, lag.Options{Registerer: reg, Logger: log})
			if err != nil {
				return err
			}
			srv, err := server.Start(c.Lag.Serve, reg, server.Probes{Ready: server.ReadyIf(mon.Ready, "no poll of the cluster has succeeded yet")}, statusMux(ctx, reg, "veltrix lag · cluster "+c.Lag.Cluster), server.Options{WebConfigFile: c.Metrics.WebConfigFile})
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
	cmd.Flags().BoolVar(&watch, "watch", false, "reprint the table every lag.interval until Ctrl-C")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --once or --watch: print each poll as one JSON object")
	config.AddFlags(cmd.Flags(), []string{"kafka.", "lag.", "log."})
	return cmd
}

// lagTable polls once, or every interval until ctx ends when watch is set,
// and prints each poll.
func lagTable(ctx context.Context, mon *lag.Monitor, interval time.Duration, watch, asJSON bool, w io.Writer) error {
	clear := watch && !asJSON && isTerminal(w)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s, err := mon.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !watch {
				return err
			}
			fmt.Fprintln(w, "veltrix lag:", err)
		} else {
			if clear {
				fmt.Fprint(w, "\033[H\033[2J")
			}
			if asJSON {
				_ = json.NewEncoder(w).Encode(lagView(s))
			} else {
				printLagTable(w, s)
			}
		}
		if !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if !clear && !asJSON {
				fmt.Fprintln(w)
			}
		}
	}
}

// printLagTable prints s like kafka-consumer-groups --describe, with
// TIME-LAG and STATUS, then one note per group that needs one.
func printLagTable(w io.Writer, s *lag.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tTIME-LAG\tSTATUS\tCLIENT-ID")
	var notes []string
	uncommitted := false
	for _, g := range s.Groups {
		if len(g.Partitions) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t%s\t-\n", g.Name, g.Status)
		}
		lost := int64(0)
		for _, p := range g.Partitions {
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
