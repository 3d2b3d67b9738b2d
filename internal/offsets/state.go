package offsets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/lag"
)

// ErrUnknownGroup is returned by Read for a group with no live members and
// no committed offsets: the coordinator knows nothing of it, which is
// almost always a misspelt name.
var ErrUnknownGroup = errors.New("unknown group")

// ErrUnknownTopic is returned by Read when the topic asked for does not
// exist.
var ErrUnknownTopic = errors.New("unknown topic")

// State is a group's offsets as one lag poll saw them.
type State struct {
	Group string
	// GroupState is the coordinator's word (Empty, Stable, ...); "" when
	// the group could not be described, so its members are not known.
	GroupState string
	Members    []lag.Member
	// Partitions are sorted by topic and partition. With a topic asked
	// for, they are every partition of it, committed to or not; without,
	// every partition the group has committed to or is assigned.
	Partitions []lag.Partition
	At         time.Time
}

// Read polls group once with the lag monitor's reader (cfg is lag.*; its
// Reset says where a partition with no commit would start) and returns its
// state, narrowed to topic unless topic is "". It fails with ErrUnknownGroup
// or ErrUnknownTopic (wrapped) when either does not exist.
func Read(ctx context.Context, cl *kgo.Client, group, topic string, cfg lag.Config) (*State, error) {
	cfg.Groups = "" // only the named group
	mon, err := lag.New(cl, cfg, lag.Options{Groups: []string{group}})
	if err != nil {
		return nil, err
	}
	snap, err := mon.Poll(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading group %s: %w", group, err)
	}
	g, ok := snap.Group(group)
	if !ok {
		return nil, fmt.Errorf("reading group %s: not in the poll", group)
	}
	if g.Err != "" {
		return nil, fmt.Errorf("reading group %s: %s", group, g.Err)
	}
	known := len(g.Members) > 0 || slices.ContainsFunc(g.Partitions, func(p lag.Partition) bool { return p.HasCommit })
	if !known {
		return nil, fmt.Errorf("%w %s: it has no live members and no committed offsets (veltrix lag --once lists the groups there are)", ErrUnknownGroup, group)
	}
	st := &State{Group: group, GroupState: g.State, Members: g.Members, At: snap.At}
	if topic == "" {
		st.Partitions = g.Partitions
		return st, nil
	}
	have := map[int32]bool{}
	for _, p := range g.Partitions {
		if p.Topic == topic {
			st.Partitions = append(st.Partitions, p)
			have[p.Partition] = true
		}
	}
	// Partitions the group never committed to are not in the poll when no
	// member is assigned them; a reset may still set them, so they are
	// read here, valued as the monitor values a partition with no commit.
	adm := kadm.NewClient(cl)
	start, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing log start offsets of %s: %w", topic, err)
	}
	end, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing last stable offsets of %s: %w", topic, err)
	}
	if o, ok := start.Lookup(topic, -1); ok && o.Err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrUnknownTopic, topic, o.Err)
	}
	if len(start[topic]) == 0 {
		return nil, fmt.Errorf("%w %s: the cluster lists no partitions for it", ErrUnknownTopic, topic)
	}
	for part, s := range start[topic] {
		if have[part] {
			continue
		}
		e, _ := end.Lookup(topic, part)
		p := lag.Partition{Topic: topic, Partition: part, Start: s.Offset, End: e.Offset, Committed: s.Offset}
		switch {
		case s.Err != nil:
			p.Err = fmt.Sprintf("listing log start offset: %v", s.Err)
		case e.Err != nil:
			p.Err = fmt.Sprintf("listing last stable offset: %v", e.Err)
		}
		if cfg.Reset == "latest" {
			p.Committed = p.End
		}
		if p.Err == "" {
			p.Lag = p.End - p.Committed
		}
		st.Partitions = append(st.Partitions, p)
	}
	slices.SortFunc(st.Partitions, func(a, b lag.Partition) int { return int(a.Partition - b.Partition) })
	return st, nil
}
