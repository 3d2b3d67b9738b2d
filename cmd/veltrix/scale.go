package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/autoscale"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/lag"
)

// scaleKeys are the settings veltrix scale reads.
var scaleKeys = []string{"kafka.", "autoscale.", "lag.interval", "lag.window", "lag.warn_time_lag", "lag.reset", "log."}

func newScale() *cobra.Command {
	var group string
	var polls int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "How many members a consumer group should run, and why",
		Long: `scale polls one group's lag --polls times, lag.interval apart, and prints
the member count veltrix recommends with its reasoning: the input and
consumption rates, each member's measured capacity, the members needed to
keep up at autoscale.target_utilization and to drain the lag within
autoscale.target_drain_time, capped at the partitions and rounded up to a
count that lowers the partitions per member. Stuck partitions (STALL) are
named and left out. It is the number veltrix lag --serve exports as
veltrix_autoscale_recommended_replicas for an autoscaler to follow
(docs/deployment.md); one run has no history, so its scale-down delay
starts now.`,
		Example: `  veltrix scale --brokers 127.0.0.1:9092 --group billing
  veltrix scale --brokers 127.0.0.1:9092 --group billing --polls 6 --lag.interval 5s --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			c := l.Config
			if group == "" {
				return usageError{fmt.Errorf("--group is required")}
			}
			if polls < 2 {
				return usageError{fmt.Errorf("--polls %d: want at least 2, the rates need two polls", polls)}
			}
			ctx, stop := signalContext(cmd.ErrOrStderr())
			defer stop()
			kc := c.Kafka
			kc.ClientID += "-scale"
			cl, err := kafka.Connect(ctx, kc)
			if err != nil {
				return err
			}
			defer cl.Close()
			lc := c.Lag
			lc.Groups = "" // only the named group
			mon, err := lag.New(cl, lc, lag.Options{Groups: []string{group}, Logger: newLogger(c.Log, cmd.ErrOrStderr())})
			if err != nil {
				return err
			}
			rec, err := autoscale.New(c.Autoscale, lc.Interval)
			if err != nil {
				return err
			}
			t := time.NewTicker(lc.Interval)
			defer t.Stop()
			for i := range polls {
				if i > 0 {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-t.C:
					}
				}
				s, err := mon.Poll(ctx)
				if err != nil {
					return err
				}
				rec.Observe(s)
			}
			r, ok := rec.Recommend(group, time.Now())
			if !ok {
				return fmt.Errorf("group %s was not in the polls", group)
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
			}
			printScale(cmd.OutOrStdout(), r)
			return nil
		},
	}
	cmd.Flags().StringVar(&group, "group", "", "consumer group id (required)")
	cmd.Flags().IntVar(&polls, "polls", 3, "lag polls to measure the rates over, lag.interval apart (at least 2)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the recommendation and its figures as one JSON object")
	config.AddFlags(cmd.Flags(), scaleKeys)
	return cmd
}

// printScale prints a recommendation: the count, then each reason.
func printScale(w io.Writer, r autoscale.Recommendation) {
	held := ""
	if r.Held {
		held = ", held"
	}
	fmt.Fprintf(w, "group %s: %s recommended (now %d%s)\n", r.Group, autoscale.Members(r.Replicas), r.Members, held)
	for _, why := range r.Reasons {
		fmt.Fprintln(w, "  -", why)
	}
	fmt.Fprintf(w, "partitions %d (useful member counts %v), %d with lag, %d records of lag", r.Partitions, r.Useful, r.PartitionsWithLag, r.Lag)
	if len(r.Stalled) > 0 {
		fmt.Fprintf(w, ", stuck %v with %d", r.Stalled, r.StalledLag)
	}
	fmt.Fprintln(w)
}
