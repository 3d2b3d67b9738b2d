package offsets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// ApplyOptions are Apply's collaborators.
type ApplyOptions struct {
	// Who is the operator named in the audit line; "" means Who().
	Who string
	// Audit receives one Info line per applied reset; nil discards it.
	Audit *slog.Logger
	// Metrics counts applied resets; nil counts nothing.
	Metrics *metrics.Offsets
}

// Result is what Apply committed.
type Result struct {
	// Committed are the rows whose offsets the group now has.
	Committed []Row
}

// Who names the operator as user@host, from the operating system.
func Who() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if v := os.Getenv("USER"); v != "" {
		name = v
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}

// Apply commits the plan's changed rows as the group's offsets. It checks
// again, just before committing, that the group has no live members (one may
// have joined since the plan was read), and Kafka refuses the commit too if
// one joins in between. A plan with nothing to change commits nothing and is
// not counted. Each applied reset writes one audit line (who, group, topic,
// target, each partition's from and to, totals; the line's time is when) and
// adds one to veltrix_offset_resets_total.
func Apply(ctx context.Context, cl *kgo.Client, p *Plan, opts ApplyOptions) (Result, error) {
	changes := p.Changes()
	if len(changes) == 0 {
		return Result{}, nil
	}
	adm := kadm.NewClient(cl)
	described, err := adm.DescribeGroups(ctx, p.Group)
	if err != nil {
		return Result{}, fmt.Errorf("describing group %s before committing: %w", p.Group, err)
	}
	if d, ok := described[p.Group]; ok && len(d.Members) > 0 {
		e := &LiveMembersError{Group: p.Group}
		for _, m := range d.Members {
			e.Members = append(e.Members, lag.Member{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost})
		}
		return Result{}, e
	}

	commits := make(kadm.Offsets)
	for _, r := range changes {
		commits.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.To, LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, p.Group, commits)
	if err != nil {
		return Result{}, fmt.Errorf("committing offsets of group %s: %w", p.Group, err)
	}
	var res Result
	var failed []string
	for _, r := range changes {
		o, ok := resp.Lookup(r.Topic, r.Partition)
		switch {
		case !ok:
			failed = append(failed, fmt.Sprintf("%d: not in the answer", r.Partition))
		case o.Err != nil:
			failed = append(failed, fmt.Sprintf("%d: %v", r.Partition, explain(o.Err)))
		default:
			res.Committed = append(res.Committed, r)
		}
	}
	if len(res.Committed) > 0 {
		audit(p, res.Committed, opts)
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("committing offsets of group %s/%s: %d of %d partitions failed: %s",
			p.Group, p.Topic, len(failed), len(changes), strings.Join(failed, "; "))
	}
	return res, nil
}

// explain adds what an operator should know to the commit errors a reset
// meets.
func explain(err error) error {
	switch {
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
		errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.StaleMemberEpoch):
		return fmt.Errorf("%w (a member joined the group while resetting: stop it and run the reset again)", err)
	}
	return err
}

// audit writes the reset's audit line and counts it.
func audit(p *Plan, rows []Row, opts ApplyOptions) {
	who := opts.Who
	if who == "" {
		who = Who()
	}
	var moves []string
	var skipped, replayed int64
	for _, r := range rows {
		from := fmt.Sprint(r.From)
		if !r.HasCommit {
			from = "none"
		}
		moves = append(moves, fmt.Sprintf("%d:%s->%d", r.Partition, from, r.To))
		skipped += r.Skipped()
		replayed += r.Replayed()
	}
	if opts.Audit != nil {
		opts.Audit.Info("offsets reset applied", "who", who, "group", p.Group, "topic", p.Topic,
			"target", p.Target.String(), "partitions", strings.Join(moves, " "),
			"skipped", skipped, "replayed", replayed)
	}
	if opts.Metrics != nil {
		opts.Metrics.Resets.WithLabelValues(p.Group, p.Topic, string(p.Target.Kind)).Inc()
	}
}
