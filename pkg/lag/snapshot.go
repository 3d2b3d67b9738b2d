package lag

import (
	"time"
)

// Snapshot is what one poll saw. It is immutable once published.
type Snapshot struct {
	Cluster string        `json:"cluster"`
	At      time.Time     `json:"at"`
	Took    time.Duration `json:"took_ns"`
	Groups  []Group       `json:"groups"` // sorted by name
}

// Group is one consumer group in a snapshot.
type Group struct {
	Name string `json:"group"`
	// State is the coordinator's word: Stable, PreparingRebalance, Empty,
	// Dead, ... ("" when the group could not be described).
	State   string   `json:"state"`
	Members []Member `json:"members"`
	// Status is the worst status of the group's partitions; ERR when the
	// group's offsets could not be read at all.
	Status     Status      `json:"status"`
	Partitions []Partition `json:"partitions"` // sorted by topic, partition
	// Err says why the group's offsets could not be read.
	Err string `json:"error,omitempty"`
}

// Member is one live member of a group.
type Member struct {
	ID       string `json:"member_id"`
	ClientID string `json:"client_id"`
	Host     string `json:"host"`
}

// Partition is one partition a group consumes, or has committed to.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is the group's committed offset; when HasCommit is false
	// nothing is committed and Committed is where the reset policy would
	// start (the log start for earliest, the end for latest).
	Committed int64 `json:"committed"`
	HasCommit bool  `json:"has_commit"`
	// Start is the log start offset; End the last stable offset (the high
	// watermark unless a transaction is open).
	Start int64 `json:"log_start"`
	End   int64 `json:"log_end"`
	// Lag is End − Committed, never negative, and 0 when no data record
	// lies between them (only transaction markers or aborted records, which
	// a read_committed consumer never sees).
	Lag int64 `json:"lag"`
	// Unstable is the high watermark minus End: the records (and
	// markers) of transactions still open, which no read_committed reader
	// sees yet. A transaction that hangs (its producer died with a long
	// transaction timeout, or a broker fault) pins End while this grows;
	// the lag against End then understates what is waiting.
	Unstable int64 `json:"unstable"`
	// Lost counts records deleted by retention before the group read them:
	// Start − Committed when the commit is below the log start, else 0.
	Lost int64 `json:"lost"`
	// RecordTime is the timestamp of the first data record at or after the
	// committed offset; zero when caught up or not known.
	RecordTime time.Time `json:"record_time"`
	// TimeLagKnown says the time lag could be measured: false when the
	// record at the committed offset could not be read in this poll.
	TimeLagKnown bool `json:"time_lag_known"`
	// Owner is the client id of the member assigned the partition, "" when
	// none is.
	Owner  string `json:"owner,omitempty"`
	Status Status `json:"status"`
	Err    string `json:"error,omitempty"`
	// Halted is the note a veltrix processor committed with the offset of
	// the record that halted the partition (on_failure=halt), while the
	// group's committed offset is still that record's; nil otherwise.
	Halted *Halt `json:"halted,omitempty"`
}

// Halt is a halted partition as its member noted it in the commit.
type Halt struct {
	Offset   int64     `json:"offset"`
	Attempts int       `json:"attempts"`
	Err      string    `json:"error"`
	Since    time.Time `json:"since"`
}

// TimeLag is how far behind the group is in time at now: now − the
// timestamp of the next record it has to read, 0 when caught up. Measured
// against now rather than the poll time, it keeps growing between polls
// while nobody consumes, and stays exact when the producer is idle.
func (p Partition) TimeLag(now time.Time) time.Duration {
	if p.Lag == 0 || p.RecordTime.IsZero() {
		return 0
	}
	return max(now.Sub(p.RecordTime), 0)
}

// Group returns the group named name and whether the snapshot has it.
func (s *Snapshot) Group(name string) (Group, bool) {
	for _, g := range s.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// SumLag is the group's total offset lag.
func (g Group) SumLag() int64 {
	var n int64
	for _, p := range g.Partitions {
		n += p.Lag
	}
	return n
}

// MaxLag is the group's largest partition offset lag.
func (g Group) MaxLag() int64 {
	var n int64
	for _, p := range g.Partitions {
		n = max(n, p.Lag)
	}
	return n
}

// MaxTimeLag is the group's largest partition time lag at now.
func (g Group) MaxTimeLag(now time.Time) time.Duration {
	var d time.Duration
	for _, p := range g.Partitions {
		d = max(d, p.TimeLag(now))
	}
	return d
}
