package processor

import (
	"fmt"
	"time"
)

// Guarantee says what a crash or a rebalance may do to the output of a
// handler that produces to Kafka.
type Guarantee string

// The delivery guarantees.
const (
	// AtLeastOnce commits offsets after the work is done (CommitConfig):
	// a crash or a rebalance replays the work done since the last commit,
	// so the handler's writes may be duplicated. "" means it.
	AtLeastOnce Guarantee = "at_least_once"
	// ExactlyOnce commits the handler's writes and the input offsets in
	// one Kafka transaction every TransactionConfig.Interval (transact.go):
	// readers of the output with read_committed see each input record's
	// output once. It covers records produced through the client that
	// TransactClient returns and the dead letters; nothing outside Kafka.
	ExactlyOnce Guarantee = "exactly_once"
)

// MarshalText returns the guarantee's word.
func (g Guarantee) MarshalText() ([]byte, error) { return []byte(g), nil }

// UnmarshalText reads at_least_once or exactly_once ("" is at_least_once).
func (g *Guarantee) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*g = ""
		return nil
	}
	return unmarshalWord(g, b, AtLeastOnce, ExactlyOnce)
}

func (g Guarantee) valid() bool { return g == "" || g == AtLeastOnce || g == ExactlyOnce }

// TransactionConfig tunes exactly_once (keys processor.transaction.*).
type TransactionConfig struct {
	// Interval is how long a transaction stays open: then every lane
	// finishes what was fetched, and the writes and offsets commit
	// together. It bounds the latency exactly_once adds for read_committed
	// readers, and the work an abort redoes.
	Interval time.Duration `koanf:"interval"`
	// MaxRecords ends a transaction early once this many records were
	// fetched in it; 0 means no bound.
	MaxRecords int `koanf:"max_records"`
	// ID is the transactional id; "" derives it from the group and
	// Group.InstanceID (TransactionalID).
	ID string `koanf:"id"`
	// Timeout is the transaction timeout the brokers enforce: a
	// transaction left open longer (its member hung or died) is aborted
	// by the coordinator, which unpins the last stable offset.
	Timeout time.Duration `koanf:"timeout"`
}

// validateGuarantee reports the problems with the guarantee settings.
func (c Config) validateGuarantee() []error {
	var errs []error
	if !c.Guarantee.valid() {
		errs = append(errs, fmt.Errorf("Guarantee %q: want %s or %s", c.Guarantee, AtLeastOnce, ExactlyOnce))
	}
	t := c.Transaction
	if t.Interval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("Transaction.Interval %s: want at least 10ms", t.Interval))
	}
	if t.MaxRecords < 0 {
		errs = append(errs, fmt.Errorf("Transaction.MaxRecords %d: want at least 0", t.MaxRecords))
	}
	if t.Timeout < time.Second {
		errs = append(errs, fmt.Errorf("Transaction.Timeout %s: want at least 1s", t.Timeout))
	}
	if c.Guarantee == ExactlyOnce {
		if c.Commit.Mode == CommitManual {
			errs = append(errs, fmt.Errorf("Commit.Mode %q: exactly_once commits the offsets in its transactions; use %s or %s", c.Commit.Mode, CommitInterval, CommitBatch))
		}
		if t.Interval >= t.Timeout {
			errs = append(errs, fmt.Errorf("Transaction.Interval %s: must be below Transaction.Timeout (%s)", t.Interval, t.Timeout))
		}
	}
	return errs
}

// TransactionalID returns the transactional id a member with cfg uses under
// exactly_once: Transaction.ID when set, else <group>-<instance id> when
// static membership is on, else "" (the caller makes one up per process
// start). A restarted member that keeps its id aborts its predecessor's open
// transaction at once; with a new id that transaction stays open, pinning
// the last stable offset of the output, until Transaction.Timeout.
func TransactionalID(cfg Config) string {
	switch {
	case cfg.Transaction.ID != "":
		return cfg.Transaction.ID
	case cfg.Group.InstanceID != "":
		return cfg.Group.ID + "-" + cfg.Group.InstanceID
	}
	return ""
}
