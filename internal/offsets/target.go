// Package offsets reads and moves a consumer group's committed offsets:
// the logic behind veltrix offsets show and reset. A reset is planned first
// (Build: where each partition is, where it would go, what that skips or
// replays) and applied only on request (Apply), to a group with no live
// members, inside each partition's [log start, end], with one audit line and
// one count per applied reset.
//
// It reads through pkg/lag, so show and reset see exactly what veltrix lag
// sees: the same committed offsets, log start, last stable offset and lag.
package offsets

import (
	"errors"
	"fmt"
	"time"
)

// Kind is what a reset moves offsets to.
type Kind string

// The reset targets. Their words are the flags of veltrix offsets reset and
// the target label of veltrix_offset_resets_total.
const (
	// ToEarliest moves to the log start: everything still kept is replayed.
	ToEarliest Kind = "to-earliest"
	// ToLatest moves to the end (the last stable offset): everything not
	// yet read is skipped.
	ToLatest Kind = "to-latest"
	// ToOffset moves every chosen partition to one offset.
	ToOffset Kind = "to-offset"
	// ToDatetime moves each partition to its first record stamped at or
	// after a time (the end when there is none).
	ToDatetime Kind = "to-datetime"
	// ShiftBy moves each partition by a signed number of offsets.
	ShiftBy Kind = "shift-by"
	// SkipHalted moves each named halted partition just past the record it
	// halted on.
	SkipHalted Kind = "skip-halted"
)

// Kinds lists every target kind, in the order --help shows them.
var Kinds = []Kind{ToEarliest, ToLatest, ToOffset, ToDatetime, ShiftBy, SkipHalted}

// Target is one reset target: the kind and the value its kind needs.
type Target struct {
	Kind Kind
	// Offset is the offset of ToOffset.
	Offset int64
	// Time is the time of ToDatetime.
	Time time.Time
	// Shift is the signed distance of ShiftBy.
	Shift int64
}

// String is the target as the command line spells it, e.g. "shift-by -10".
func (t Target) String() string {
	switch t.Kind {
	case ToOffset:
		return fmt.Sprintf("%s %d", t.Kind, t.Offset)
	case ToDatetime:
		return fmt.Sprintf("%s %s", t.Kind, t.Time.Format(time.RFC3339Nano))
	case ShiftBy:
		return fmt.Sprintf("%s %+d", t.Kind, t.Shift)
	}
	return string(t.Kind)
}

// Validate reports a target that cannot be planned whatever the cluster
// holds: an unknown kind, a negative offset, a zero shift, or a time after
// now (no record can be stamped in the future, so it would silently mean
// "latest").
func (t Target) Validate(now time.Time) error {
	switch t.Kind {
	case ToEarliest, ToLatest, SkipHalted:
	case ToOffset:
		if t.Offset < 0 {
			return fmt.Errorf("--to-offset %d: want an offset of 0 or more", t.Offset)
		}
	case ToDatetime:
		if t.Time.After(now) {
			return fmt.Errorf("--to-datetime %s is in the future (now is %s): no record can be stamped after now",
				t.Time.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	case ShiftBy:
		if t.Shift == 0 {
			return errors.New("--shift-by 0 moves nothing: want a positive number to skip or a negative one to replay")
		}
	default:
		return fmt.Errorf("unknown reset target %q", t.Kind)
	}
	return nil
}
