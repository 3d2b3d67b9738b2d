package handler

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"time"

	"github.com/veltrix/veltrix/pkg/processor"
)

// ErrSimulated is the failure the simulate handler reports.
var ErrSimulated = errors.New("simulated failure")

// Simulate stands in for a real handler in capacity and failure tests: it
// spends a configured time per batch and per record, and fails a configured
// share of records. Which records fail is decided by a hash of key and
// value, so a retried record fails again, like a real poison record.
type Simulate struct {
	cfg       SimulateConfig
	threshold uint64
}

var _ processor.Handler = (*Simulate)(nil)

// NewSimulate returns a Simulate.
func NewSimulate(cfg SimulateConfig) *Simulate {
	return &Simulate{cfg: cfg, threshold: uint64(cfg.FailureRate * math.MaxUint64)}
}

// Handle sleeps, then fails the poisoned records.
func (s *Simulate) Handle(ctx context.Context, b *processor.Batch) error {
	d := s.cfg.BatchDelay + time.Duration(len(b.Records))*s.cfg.RecordDelay
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	if s.cfg.FailureRate <= 0 {
		return nil
	}
	var errs processor.RecordErrors
	for i, r := range b.Records {
		if s.Poisoned(r.Key, r.Value) {
			errs.Add(i, ErrSimulated)
		}
	}
	return errs.Err()
}

// Poisoned reports whether Handle fails a record with this key and value.
func (s *Simulate) Poisoned(key, value []byte) bool {
	if s.cfg.FailureRate >= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write(key)
	h.Write([]byte{0})
	h.Write(value)
	return h.Sum64() < s.threshold
}
