package handler

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"sync/atomic"
	"time"

	"github.com/veltrix/veltrix/pkg/processor"
)

// ErrSimulated is the failure the simulate handler reports.
var ErrSimulated = errors.New("simulated failure")

// Simulate stands in for a real handler in capacity and failure tests: it
// spends a configured time per batch and per record, and fails a configured
// share of records. Which records fail is decided by a hash of key and
// value, so a retried record fails again, like a real poison record. It can
// also hang one call for good, ignoring its context, like a handler stuck
// on a network read without a deadline, and forward the records it did not
// fail, so a fault test can check what was handled.
type Simulate struct {
	cfg       SimulateConfig
	threshold uint64
	calls     atomic.Int64
	next      processor.Handler // forward, with SimulateConfig.Forward; nil otherwise
}

var _ processor.Handler = (*Simulate)(nil)

// NewSimulate returns a Simulate. With cfg.Forward, New gives it the forward
// handler that writes its output; NewSimulate alone writes nothing.
func NewSimulate(cfg SimulateConfig) *Simulate {
	return &Simulate{cfg: cfg, threshold: uint64(cfg.FailureRate * math.MaxUint64)}
}

// Handle hangs when this is the configured call, sleeps, fails the
// poisoned records and forwards the others when configured to.
func (s *Simulate) Handle(ctx context.Context, b *processor.Batch) error {
	if s.cfg.HangCall > 0 && s.calls.Add(1) == int64(s.cfg.HangCall) {
		// Deliberately ignores ctx: this is the misbehaving handler the
		// engine must survive (it waits for it, reports it as overdue,
		// and abandons it at a drain or shutdown deadline).
		select {}
	}
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
	var errs processor.RecordErrors
	if s.cfg.FailureRate > 0 {
		for i, r := range b.Records {
			if s.Poisoned(r.Key, r.Value) {
				errs.Add(i, ErrSimulated)
			}
		}
	}
	if s.next == nil {
		return errs.Err()
	}
	good := &processor.Batch{Topic: b.Topic, Partition: b.Partition}
	index := make([]int, 0, len(b.Records)) // good.Records[j] is b.Records[index[j]]
	for i, r := range b.Records {
		if _, failed := errs.Errs[i]; !failed {
			good.Records = append(good.Records, r)
			index = append(index, i)
		}
	}
	if len(good.Records) == 0 {
		return errs.Err()
	}
	err := s.next.Handle(ctx, good)
	var re *processor.RecordErrors
	switch {
	case err == nil:
	case errors.As(err, &re) && re != nil:
		for j, e := range re.Errs {
			if j >= 0 && j < len(index) {
				errs.Add(index[j], e)
			}
		}
	default:
		return err
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
