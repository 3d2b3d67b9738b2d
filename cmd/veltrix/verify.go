package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/kafka"
)

func newVerify() *cobra.Command {
	var input, output, dlq string
	var asJSON, noDuplicates bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a pipeline's delivery: lost, duplicated and reordered events between two topics",
		Long: `verify reads --input and --output from their start to their current end (and
--dlq, if given) and reports, per producer and per key, the events produced,
delivered, lost, duplicated, out of order and dead-lettered.

It works for any pipeline that forwards the events 'veltrix produce' writes:
each is identified by its producer id and sequence number, read from the
veltrix-producer and veltrix-seq headers when a record has them, else from
the generated JSON value ({"producer":...,"seq":...}). A pipeline that
rewrites values must keep the headers, and the input must be written with
--producer.identity_headers. Input records without an identity are counted
as unidentified and not checked. Order is checked per producer and key.

It exits 1 when an event was lost or reordered (and, with --no-duplicates,
duplicated), so it can gate a script, and when it checked nothing: the input
is empty, or none of its records carries a readable identity. Every
topic is checked to exist before any is read.`,
		Example: `  veltrix verify --brokers 127.0.0.1:9092 --input events --output events-out
  veltrix verify --brokers 127.0.0.1:9092 --input events --output events-out --dlq events.dlq --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if input == "" || output == "" {
				return usageError{fmt.Errorf("--input and --output are required")}
			}
			ctx, stop := signalContext(cmd.ErrOrStderr())
			defer stop()
			kc := l.Config.Kafka
			cl, err := kafka.Connect(ctx, kc)
			if err != nil {
				return err
			}
			cl.Close()
			opts, err := kafka.Options(kc)
			if err != nil {
				return err
			}
			c := verify.NewChecker()
			steps := []struct {
				topic string
				fn    func(*kgo.Record)
			}{{input, c.Input}, {output, c.Output}, {dlq, c.DeadLetter}}
			var topics []string
			for _, s := range steps {
				if s.topic != "" {
					topics = append(topics, s.topic)
				}
			}
			if err := verify.CheckTopics(ctx, topics, opts...); err != nil {
				return fmt.Errorf("checking the topics before reading: %w", err)
			}
			for _, s := range steps {
				if s.topic == "" {
					continue
				}
				n, err := verify.ReadTopic(ctx, s.topic, s.fn, opts...)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "read %d records from %s\n", n, s.topic)
			}
			rep := c.Report()
			if asJSON {
				_ = json.NewEncoder(cmd.OutOrStdout()).Encode(rep)
			} else {
				printReport(cmd.OutOrStdout(), rep)
			}
			if err := rep.Err(); err != nil {
				return err
			}
			t := rep.Total
			if t.Lost > 0 || t.OutOfOrder > 0 || (noDuplicates && t.Duplicated > 0) {
				return fmt.Errorf("delivery check failed: %d lost, %d out of order, %d duplicated", t.Lost, t.OutOfOrder, t.Duplicated)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&input, "input", "", "topic the pipeline reads (required)")
	cmd.Flags().StringVar(&output, "output", "", "topic the pipeline writes (required)")
	cmd.Flags().StringVar(&dlq, "dlq", "", "dead-letter topic: events found there count as dead-lettered, not lost")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	cmd.Flags().BoolVar(&noDuplicates, "no-duplicates", false, "also fail when an event was delivered more than once")
	config.AddFlags(cmd.Flags(), []string{"kafka.", "log."})
	return cmd
}

func printReport(w io.Writer, r verify.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRODUCER\tPRODUCED\tDELIVERED\tLOST\tDUPLICATED\tOUT-OF-ORDER\tDEAD-LETTERED")
	row := func(name string, c verify.Counts) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", name, c.Produced, c.Delivered, c.Lost, c.Duplicated, c.OutOfOrder, c.DeadLettered)
	}
	for _, p := range r.Producers {
		row(p.Producer, p.Counts)
	}
	row("TOTAL", r.Total)
	tw.Flush()
	if len(r.ProblemKeys) > 0 {
		fmt.Fprintln(w, "\nkeys with problems:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PRODUCER\tKEY\tLOST\tDUPLICATED\tOUT-OF-ORDER")
		for _, k := range r.ProblemKeys {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", k.Producer, k.Key, k.Lost, k.Duplicated, k.OutOfOrder)
		}
		tw.Flush()
		if r.MoreProblems > 0 {
			fmt.Fprintf(w, "... and %d more keys\n", r.MoreProblems)
		}
	}
	if r.Unidentified > 0 || r.Strays > 0 {
		fmt.Fprintf(w, "\n%d input records had no readable identity (not checked; %d malformed); %d output events were never in the input\n",
			r.Unidentified, r.Malformed, r.Strays)
	}
}
