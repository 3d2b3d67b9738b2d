package lag

import "fmt"

// Status is the health of a partition or a group, in rising severity: a
// group's status is the worst of its partitions'. The numeric values are
// exported as kafka_consumergroup_group_status and never change.
type Status int

// The statuses, in rising severity.
const (
	// OK: caught up, catching up, or not enough history to say otherwise.
	OK Status = iota
	// Warn: the group is committing, but the lag grew over the window.
	Warn
	// Rewind: the committed offset went backwards within the window (an
	// offset reset, or a consumer that restarted from an older position).
	Rewind
	// Stall: a member owns the partition, lag stayed above zero and the
	// committed offset did not move over the whole window.
	Stall
	// Stop: like Stall, but no member owns the partition: nobody is
	// consuming while lag exists.
	Stop
	// Err: the offsets could not be read.
	Err
)

var statusNames = [...]string{"OK", "WARN", "REWIND", "STALL", "STOP", "ERR"}

// String is the status word: OK, WARN, REWIND, STALL, STOP or ERR.
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("Status(%d)", int(s))
	}
	return statusNames[s]
}

// MarshalText writes the status word, so JSON shows "STOP", not 4.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// worst returns the more severe of a and b.
func worst(a, b Status) Status { return max(a, b) }
