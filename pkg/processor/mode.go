package processor

import (
	"fmt"
	"strings"
)

// CommitMode says when finished offsets are committed.
type CommitMode string

// The commit modes.
const (
	// CommitBatch commits synchronously after each handled batch.
	CommitBatch CommitMode = "batch"
	// CommitInterval commits finished work every CommitConfig.Interval, at
	// rebalances and at shutdown.
	CommitInterval CommitMode = "interval"
	// CommitManual never commits: the offsets are the caller's to manage.
	CommitManual CommitMode = "manual"
)

// OnFailure says what happens to a record that still fails after its
// retries.
type OnFailure string

// The failure policies.
const (
	// OnFailureHalt stops the record's partition: nothing after it is
	// handled or committed until the processor restarts.
	OnFailureHalt OnFailure = "halt"
	// OnFailureSkip counts the record and drops it.
	OnFailureSkip OnFailure = "skip"
	// OnFailureDLQ writes the record to the dead-letter topic and commits
	// past it once the write is acknowledged.
	OnFailureDLQ OnFailure = "dlq"
)

// IsolationLevel says whether records of open and aborted transactions are
// read.
type IsolationLevel string

// The isolation levels.
const (
	// ReadCommitted hands over only committed transactional records and
	// skips aborted ones; "" means it.
	ReadCommitted IsolationLevel = "read_committed"
	// ReadUncommitted also hands over records of open and aborted
	// transactions.
	ReadUncommitted IsolationLevel = "read_uncommitted"
)

// Each mode decodes from and encodes to its word, so configuration
// decoders (koanf and mapstructure with a text unmarshaler hook, YAML,
// JSON) read the same words the documentation uses and refuse others.

// MarshalText returns the mode's word.
func (m CommitMode) MarshalText() ([]byte, error) { return []byte(m), nil }

// UnmarshalText reads batch, interval or manual.
func (m *CommitMode) UnmarshalText(b []byte) error {
	return unmarshalWord(m, b, CommitBatch, CommitInterval, CommitManual)
}

func (m CommitMode) valid() bool {
	return m == CommitBatch || m == CommitInterval || m == CommitManual
}

// MarshalText returns the policy's word.
func (f OnFailure) MarshalText() ([]byte, error) { return []byte(f), nil }

// UnmarshalText reads halt, skip or dlq.
func (f *OnFailure) UnmarshalText(b []byte) error {
	return unmarshalWord(f, b, OnFailureHalt, OnFailureSkip, OnFailureDLQ)
}

func (f OnFailure) valid() bool {
	return f == OnFailureHalt || f == OnFailureSkip || f == OnFailureDLQ
}

// MarshalText returns the level's word.
func (l IsolationLevel) MarshalText() ([]byte, error) { return []byte(l), nil }

// UnmarshalText reads read_committed or read_uncommitted ("" is
// read_committed).
func (l *IsolationLevel) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*l = ""
		return nil
	}
	return unmarshalWord(l, b, ReadCommitted, ReadUncommitted)
}

func (l IsolationLevel) valid() bool {
	return l == "" || l == ReadCommitted || l == ReadUncommitted
}

// unmarshalWord sets *dst to the one of words that b spells.
func unmarshalWord[T ~string](dst *T, b []byte, words ...T) error {
	for _, w := range words {
		if string(b) == string(w) {
			*dst = w
			return nil
		}
	}
	names := make([]string, len(words))
	for i, w := range words {
		names[i] = string(w)
	}
	return fmt.Errorf("%q: want one of %s", b, strings.Join(names, ", "))
}

// Ordering says which records of a partition may be handled concurrently.
type Ordering string

// The ordering modes.
const (
	// OrderPartition hands a partition's records to the handler in offset
	// order, one call at a time per partition; "" means it.
	OrderPartition Ordering = "partition"
	// OrderKey hands records with the same key over in offset order, one
	// call at a time per key; records of different keys run concurrently,
	// up to Config.Concurrency calls per partition (keyed.go).
	OrderKey Ordering = "key"
	// OrderNone lets any record of a partition run concurrently with the
	// others, up to Config.Concurrency calls per partition.
	OrderNone Ordering = "none"
)

// MarshalText returns the mode's word.
func (o Ordering) MarshalText() ([]byte, error) { return []byte(o), nil }

// UnmarshalText reads partition, key or none ("" is partition).
func (o *Ordering) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*o = ""
		return nil
	}
	return unmarshalWord(o, b, OrderPartition, OrderKey, OrderNone)
}

func (o Ordering) valid() bool {
	return o == "" || o == OrderPartition || o == OrderKey || o == OrderNone
}

// concurrent reports whether the mode runs a partition's records on
// sub-lanes behind an offset window.
func (o Ordering) concurrent() bool { return o == OrderKey || o == OrderNone }
