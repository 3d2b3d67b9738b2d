package offsets

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/lag"
)

// Clamp names the bound a planned offset was moved to because the target
// lay outside [log start, end].
type Clamp string

// The bounds a target can be clamped to.
const (
	ClampNone  Clamp = ""
	ClampStart Clamp = "log start"
	ClampEnd   Clamp = "log end"
)

// Row is one partition of a plan.
type Row struct {
	Topic     string
	Partition int32
	// From is the committed offset; when HasCommit is false nothing is
	// committed and From is where the group would start (lag.reset).
	From      int64
	HasCommit bool
	// To is where the reset commits the partition, always within
	// [Start, End].
	To         int64
	Start, End int64
	// Clamped says the target lay outside [Start, End] and To is the bound.
	Clamped Clamp
	// Wanted is the offset the target asked for, before clamping.
	Wanted int64
	// Note explains the row: the record skipped by skip-halted, the time a
	// datetime target found.
	Note string
}

// position is where the group would read next today: From, but never below
// the log start (what lies below is gone, not replayable) nor above the end.
func (r Row) position() int64 { return min(max(r.From, r.Start), r.End) }

// Skipped counts the offsets the reset moves forward over without the
// group reading them (markers of transactions included).
func (r Row) Skipped() int64 { return max(r.To-r.position(), 0) }

// Replayed counts the offsets the group will read again.
func (r Row) Replayed() int64 { return max(r.position()-r.To, 0) }

// Changes says applying the row commits something new.
func (r Row) Changes() bool { return !r.HasCommit || r.From != r.To }

// Plan is a reset computed but not applied.
type Plan struct {
	Group  string
	Topic  string
	Target Target
	Rows   []Row // sorted by partition
	At     time.Time
}

// Skipped sums the rows' skipped offsets.
func (p *Plan) Skipped() int64 {
	var n int64
	for _, r := range p.Rows {
		n += r.Skipped()
	}
	return n
}

// Replayed sums the rows' replayed offsets.
func (p *Plan) Replayed() int64 {
	var n int64
	for _, r := range p.Rows {
		n += r.Replayed()
	}
	return n
}

// Changes returns the rows applying the plan would commit.
func (p *Plan) Changes() []Row {
	var out []Row
	for _, r := range p.Rows {
		if r.Changes() {
			out = append(out, r)
		}
	}
	return out
}

// LiveMembersError is returned when the group has live members: Kafka lets
// only an empty group's offsets be committed from outside, and a member
// would overwrite them with its own position at its next commit anyway.
type LiveMembersError struct {
	Group   string
	Members []lag.Member
}

func (e *LiveMembersError) Error() string {
	names := make([]string, 0, len(e.Members))
	for _, m := range e.Members {
		names = append(names, fmt.Sprintf("%s on %s (member %s)", m.ClientID, m.Host, m.ID))
	}
	return fmt.Sprintf("group %s has %d live member(s): %s; stop them first (a static member, "+
		"processor.group.instance_id, stays in the group for its session timeout after it stops)",
		e.Group, len(e.Members), strings.Join(names, ", "))
}

// Build plans moving topic's partitions of the group in st to t: all of the
// topic's partitions, or only those in parts. It refuses while the group has
// live members or could not be described, and clamps every target into the
// partition's [log start, end], saying so in the row. It reads the cluster
// for ToDatetime (the offset of the first record at or after the time) and
// SkipHalted (the record the group would read next).
func Build(ctx context.Context, cl *kgo.Client, st *State, topic string, t Target, parts []int32) (*Plan, error) {
	if err := t.Validate(time.Now()); err != nil {
		return nil, err
	}
	if st.GroupState == "" {
		return nil, fmt.Errorf("group %s could not be described, so whether it has live members is not known; not planning a reset", st.Group)
	}
	if len(st.Members) > 0 {
		return nil, &LiveMembersError{Group: st.Group, Members: st.Members}
	}
	if t.Kind == SkipHalted && len(parts) == 0 {
		// A veltrix processor notes a halt in the commit of the halted
		// record's offset (processor.HaltNote); without --partitions those
		// are the partitions to skip.
		for _, p := range st.Partitions {
			if p.Topic == topic && p.Halted != nil {
				parts = append(parts, p.Partition)
			}
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("no partition of %s is noted as halted in group %s's commits; name the halted partitions with --partitions "+
				"(the processor's \"partition halted\" log line names each one and its offset)", topic, st.Group)
		}
	}
	rows, err := rowsOf(st, topic, parts)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Group: st.Group, Topic: topic, Target: t, At: time.Now()}
	wanted, notes, err := resolve(ctx, cl, topic, t, rows)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		r.Wanted, r.Note = wanted[r.Partition], notes[r.Partition]
		r.To, r.Clamped = clamp(r.Wanted, r.Start, r.End)
		plan.Rows = append(plan.Rows, r)
	}
	return plan, nil
}

// rowsOf returns a row per chosen partition of topic, From to End filled.
func rowsOf(st *State, topic string, parts []int32) ([]Row, error) {
	byPart := map[int32]lag.Partition{}
	for _, p := range st.Partitions {
		if p.Topic == topic {
			byPart[p.Partition] = p
		}
	}
	if len(parts) == 0 {
		for p := range byPart {
			parts = append(parts, p)
		}
	}
	parts = slices.Clone(parts)
	slices.Sort(parts)
	parts = slices.Compact(parts)
	var rows []Row
	for _, part := range parts {
		p, ok := byPart[part]
		if !ok {
			return nil, fmt.Errorf("topic %s has no partition %d (it has %s)", topic, part, partitionRange(byPart))
		}
		if p.Err != "" {
			return nil, fmt.Errorf("partition %s/%d: %s", topic, part, p.Err)
		}
		rows = append(rows, Row{Topic: topic, Partition: part, From: p.Committed, HasCommit: p.HasCommit, Start: p.Start, End: p.End})
	}
	return rows, nil
}

// partitionRange describes the partitions there are, e.g. "0-5".
func partitionRange(byPart map[int32]lag.Partition) string {
	if len(byPart) == 0 {
		return "none"
	}
	var lo, hi int32 = 1 << 30, -1
	for p := range byPart {
		lo, hi = min(lo, p), max(hi, p)
	}
	if lo == hi {
		return strconv.Itoa(int(lo))
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// clamp puts want into [start, end] and says which bound it hit.
func clamp(want, start, end int64) (int64, Clamp) {
	switch {
	case want < start:
		return start, ClampStart
	case want > end:
		return end, ClampEnd
	}
	return want, ClampNone
}

// resolve returns the offset t asks for in each row's partition, before
// clamping, and a note per partition where one helps.
func resolve(ctx context.Context, cl *kgo.Client, topic string, t Target, rows []Row) (map[int32]int64, map[int32]string, error) {
	wanted, notes := map[int32]int64{}, map[int32]string{}
	switch t.Kind {
	case ToEarliest:
		for _, r := range rows {
			wanted[r.Partition] = r.Start
		}
	case ToLatest:
		for _, r := range rows {
			wanted[r.Partition] = r.End
		}
	case ToOffset:
		for _, r := range rows {
			wanted[r.Partition] = t.Offset
		}
	case ShiftBy:
		for _, r := range rows {
			wanted[r.Partition] = r.position() + t.Shift
		}
	case ToDatetime:
		listed, err := kadm.NewClient(cl).ListOffsetsAfterMilli(ctx, t.Time.UnixMilli(), topic)
		if err != nil {
			return nil, nil, fmt.Errorf("listing offsets of %s at %s: %w", topic, t.Time.Format(time.RFC3339), err)
		}
		for _, r := range rows {
			o, ok := listed.Lookup(topic, r.Partition)
			switch {
			case !ok:
				return nil, nil, fmt.Errorf("listing offsets of %s/%d at %s: not in the answer", topic, r.Partition, t.Time.Format(time.RFC3339))
			case o.Err != nil:
				return nil, nil, fmt.Errorf("listing offsets of %s/%d at %s: %w", topic, r.Partition, t.Time.Format(time.RFC3339), o.Err)
			}
			wanted[r.Partition] = o.Offset
			if o.Offset < r.End && o.Timestamp >= 0 {
				notes[r.Partition] = "first record at or after the time is stamped " + time.UnixMilli(o.Timestamp).UTC().Format(time.RFC3339Nano)
			} else {
				notes[r.Partition] = "no record at or after the time"
			}
		}
	case SkipHalted:
		return skipHalted(ctx, cl, topic, rows)
	}
	return wanted, notes, nil
}

// skipHalted resolves SkipHalted: each row's partition moves just past the
// first data record at or after its committed offset. A halted partition's
// committed offset is the position of the record it halted on (the engine
// commits up to it, never past it), and the first record a consumer reads
// from there is that record, so this skips exactly it even when
// transaction markers or compaction leave gaps before it. A partition that
// cannot be halted is refused, not guessed at: no commit, a commit below the
// log start (the record is gone: the group restarts at the log start
// anyway), or no record at the committed offset.
func skipHalted(ctx context.Context, cl *kgo.Client, topic string, rows []Row) (map[int32]int64, map[int32]string, error) {
	from, end := map[int32]int64{}, map[int32]int64{}
	for _, r := range rows {
		switch {
		case !r.HasCommit:
			return nil, nil, fmt.Errorf("partition %s/%d has no committed offset, so it did not halt after a commit: "+
				"use --to-offset with the offset from the \"partition halted\" log line plus 1", topic, r.Partition)
		case r.From < r.Start:
			return nil, nil, fmt.Errorf("partition %s/%d: committed offset %d is below the log start %d: the record it halted on "+
				"was deleted by retention and the group will restart at the log start; nothing to skip", topic, r.Partition, r.From, r.Start)
		case r.From >= r.End:
			return nil, nil, fmt.Errorf("partition %s/%d: committed offset %d is at the log end %d: no record there to have halted on; "+
				"the partition is not halted", topic, r.Partition, r.From, r.End)
		}
		from[r.Partition], end[r.Partition] = r.From, r.End
	}
	next, err := lag.NextRecords(ctx, cl, topic, from, end)
	wanted, notes := map[int32]int64{}, map[int32]string{}
	for _, r := range rows {
		n, ok := next[r.Partition]
		switch {
		case !ok && err != nil:
			return nil, nil, fmt.Errorf("reading the record at %s/%d offset %d: %w", topic, r.Partition, r.From, err)
		case !ok:
			return nil, nil, fmt.Errorf("reading the record at %s/%d offset %d: not read in time", topic, r.Partition, r.From)
		case !n.Found:
			return nil, nil, fmt.Errorf("partition %s/%d: no data record between committed offset %d and the end %d "+
				"(only transaction markers or aborted records): the partition is not halted", topic, r.Partition, r.From, r.End)
		}
		wanted[r.Partition] = n.Offset + 1
		notes[r.Partition] = fmt.Sprintf("skips record %d (stamped %s)", n.Offset, n.Time.UTC().Format(time.RFC3339Nano))
	}
	return wanted, notes, nil
}
