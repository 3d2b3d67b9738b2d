package processor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers the engine adds to a dead letter, naming where it came from.
const (
	HeaderDLQTopic     = "veltrix-dlq-topic"
	HeaderDLQPartition = "veltrix-dlq-partition"
	HeaderDLQOffset    = "veltrix-dlq-offset"
	HeaderDLQError     = "veltrix-dlq-error"
	HeaderDLQAttempts  = "veltrix-dlq-attempts"
	HeaderDLQTime      = "veltrix-dlq-time"
)

// errStopped means the lane was abandoned before a batch finished; the
// batch is not completed and will be redelivered to the partition's next
// owner.
var errStopped = errors.New("lane stopped")

// errNoCause stands for the nil error of a record a *RecordErrors names
// (RecordErrors.Add(i, nil)): the record failed, with no cause given.
var errNoCause = errors.New("the handler named this record as failed without an error")

// errTimeout marks a handler call that exceeded handler.timeout. It says the
// downstream is slow or unhealthy, not that the records are bad: the batch
// is retried with backoff for as long as the partition is owned, and never
// reaches on_failure.
var errTimeout = errors.New("handler exceeded handler.timeout")

// process handles one batch: retries, isolation of failing records, and
// the on_failure policy; last is the batch's last record taken from the
// queue (a transaction marker may follow recs). It returns false when the
// lane must stop (it was abandoned, or the partition halted).
func (l *lane) process(recs []*kgo.Record, last *kgo.Record) bool {
	first := l.firstErr // a held batch's first call failed on the poll loop (inline.go)
	if first != nil {
		l.firstErr = nil
	} else {
		first = l.call(recs)
	}
	return l.settle(recs, last, first)
}

// settle is process once the batch's first call returned first: the
// retries, the failures' policy, and the batch's completion.
func (l *lane) settle(recs []*kgo.Record, last *kgo.Record, first error) bool {
	p := l.p
	failed, err := l.retry(recs, first)
	if err != nil {
		return false
	}
	attempts := p.cfg.Retry.MaxAttempts
	for i, r := range recs {
		ferr, bad := failed[i]
		if !bad {
			continue
		}
		switch p.cfg.OnFailure {
		case OnFailureSkip:
			l.m.failed("skip")
			p.log.Warn("skipping a record that failed all attempts", "partition", l.label(), "offset", r.Offset, "attempts", attempts, "err", ferr)
			continue
		case OnFailureDLQ:
			err := l.deadLetter(r, ferr, attempts)
			if err == nil {
				l.m.failed("dlq")
				continue
			}
			if errors.Is(err, errStopped) {
				return false
			}
			ferr = err
		}
		// halt, or a dead letter that could not be written.
		l.m.failed("halt")
		l.m.done(l.e2e, recs[:i], i-countBelow(failed, i), time.Now())
		if i > 0 {
			l.complete(recs[i-1])
		}
		l.haltPartition(r, ferr, attempts)
		return false
	}
	end := l.callEnd // the batch's last call
	if len(failed) > 0 {
		end = time.Now() // after the failures' dead letters and skips
	}
	l.m.done(l.e2e, recs, len(recs)-len(failed), end)
	l.complete(last)
	return true
}

// haltPartition stops the partition at r: its queue is dropped, fetching
// pauses (flow keeps a halted partition paused), and nothing past r is
// committed until restart. A lane released meanwhile is left alone: the
// partition is no longer this member's to halt.
func (l *lane) haltPartition(r *kgo.Record, cause error, attempts int) {
	if l.parent != nil {
		l.parent.k.halt(r, cause, attempts) // a sub-lane halts its partition (keyed.go)
		return
	}
	p := l.p
	if !l.halt(Halt{Topic: l.topic, Partition: r.Partition, Offset: r.Offset, Attempts: attempts, Err: cause.Error(), Since: time.Now()}) {
		return
	}
	if p.txn != nil {
		p.txn.halted() // exactly_once: abort the transaction (transact.go)
	}
	l.m.halted(1)
	l.m.haltedAt(r.Partition, r.Offset)
	p.dropQueued(l)
	p.flow()
	p.log.Error("partition halted: a record failed all attempts; nothing past it will be committed until restart",
		"partition", l.label(), "offset", r.Offset, "attempts", attempts, "err", cause)
}

// countBelow counts the failed indexes below i.
func countBelow(failed map[int]error, i int) int {
	n := 0
	for j := range failed {
		if j < i {
			n++
		}
	}
	return n
}

// try calls the handler with retries and returns the records, by index,
// that still fail. A whole-batch failure that outlasts its retries is
// isolated: each record is tried on its own, so one bad record does not
// take the good ones of its batch down with it. Timeouts do not use up
// attempts (see errTimeout). It returns errStopped when the lane is
// abandoned, whatever attempt it was on.
func (l *lane) try(recs []*kgo.Record) (map[int]error, error) {
	return l.retry(recs, l.call(recs))
}

// retry is try once the first call on the whole batch returned err.
func (l *lane) retry(recs []*kgo.Record, err error) (map[int]error, error) {
	p := l.p
	// The common case allocates nothing here: one call on the whole batch.
	if err == nil {
		return nil, nil
	}
	pending := make([]int, len(recs))
	for i := range pending {
		pending[i] = i
	}
	errs := map[int]error{}
	whole := false
	sub := make([]*kgo.Record, 0, len(recs))
	timeouts := 0
	for attempt, first := 1, true; ; first = false {
		if !first {
			sub = sub[:0]
			for _, i := range pending {
				sub = append(sub, recs[i])
			}
			if err = l.call(sub); err == nil {
				return nil, nil
			}
		}
		if errors.Is(err, errStopped) {
			return nil, errStopped
		}
		var re *RecordErrors
		if errors.As(err, &re) {
			next := make([]int, 0, len(re.failures()))
			clear(errs)
			for j, i := range pending {
				if e, ok := re.failures()[j]; ok {
					if e == nil {
						// Named as failed without a cause: still a failure,
						// and on_failure's dead letter needs a cause to carry.
						e = errNoCause
					}
					next = append(next, i)
					errs[i] = e
				}
			}
			if len(next) == 0 {
				// A nil *RecordErrors, or one naming no record of the batch,
				// names no failure: every record is done.
				return nil, nil
			}
			pending, whole = next, false
		} else {
			clear(errs)
			for _, i := range pending {
				errs[i] = err
			}
			whole = true
		}
		if errors.Is(err, errTimeout) {
			timeouts++
			l.m.timeout()
			p.log.Warn("handler call exceeded handler.timeout; retrying with backoff (the records are not counted as failed)",
				"partition", l.label(), "records", len(pending), "timeouts", timeouts, "timeout", p.cfg.HandlerTimeout)
			if err := l.sleep(backoff(p.cfg.Retry, timeouts)); err != nil {
				return nil, err
			}
			continue
		}
		if attempt >= p.cfg.Retry.MaxAttempts {
			break
		}
		attempt++
		l.m.retry()
		if err := l.sleep(backoff(p.cfg.Retry, attempt-1)); err != nil {
			return nil, err
		}
	}
	if !whole || len(pending) == 1 {
		return errs, nil
	}
	out := map[int]error{}
	for _, i := range pending {
		f, err := l.try(recs[i : i+1])
		if err != nil {
			return nil, err
		}
		if e, ok := f[0]; ok {
			out[i] = e
		}
	}
	return out, nil
}

// call runs the handler once on recs with the handler timeout, turning a
// panic into an error. It runs the handler on the lane's goroutine and
// waits for it to return, even past the timeout: a handler that ignores its
// context is never called again for the partition while its previous call
// runs (the Handler contract), and is reported in
// veltrix_overdue_handler_calls meanwhile. A lane abandoned at a drain
// deadline does not wait for it (release never waits past its deadline).
func (l *lane) call(recs []*kgo.Record) (err error) {
	p := l.p
	// The Batch is the lane's own, reused like its records slice: a
	// handler does not keep it (the Batch contract). Its records are let go
	// after the call, so an idle lane pins no fetch response.
	b := &l.callBatch
	*b = Batch{Topic: l.topic, Partition: l.part, Records: recs}
	// One clock reading at each end serves the lane's progress, the
	// handler-time histogram and the batch's end-to-end latency (callEnd).
	start := time.Now()
	l.callStarted(start)
	defer func() {
		end := time.Now()
		took := end.Sub(start)
		l.callReturned(end, took, err == nil)
		b.Records = nil
		l.m.handled(len(recs), took)
		l.callEnd = end
	}()
	if p.cfg.HandlerTimeout <= 0 {
		err = safeHandle(l.ctx, p.h, b)
		if l.ctx.Err() != nil {
			return errStopped
		}
		return err
	}
	if l.cc == nil {
		l.cc = newCallContext(l.ctx, func() {
			l.m.overdue(1)
			p.log.Warn("handler call still running past handler.timeout; its partition waits for it (the handler should return when its context is done)",
				"partition", l.label(), "timeout", p.cfg.HandlerTimeout)
		}, func() { l.m.overdue(-1) })
	}
	cc := l.cc
	cc.begin(start, p.cfg.HandlerTimeout)
	err = safeHandle(cc, p.h, b)
	timedOut, spent := cc.end()
	if spent {
		cc.release()
		l.cc = nil
	}
	switch {
	case l.ctx.Err() != nil:
		return errStopped
	case err != nil && timedOut:
		var re *RecordErrors
		if errors.As(err, &re) && re != nil && len(re.Errs) > 0 {
			// Only the named records timed out; keep the rest done.
			return &timedOutRecords{re}
		}
		return fmt.Errorf("%w (%s): %w", errTimeout, p.cfg.HandlerTimeout, err)
	}
	return err
}

// timedOutRecords is a *RecordErrors returned by a call that overran
// handler.timeout: the named records are retried as timeouts.
type timedOutRecords struct{ re *RecordErrors }

func (t *timedOutRecords) Error() string { return errTimeout.Error() + ": " + t.re.Error() }

// Unwrap exposes both errTimeout and the *RecordErrors.
func (t *timedOutRecords) Unwrap() []error { return []error{errTimeout, t.re} }

func safeHandle(ctx context.Context, h Handler, b *Batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return h.Handle(ctx, b)
}

// sleep waits d, or returns errStopped when the lane is abandoned first.
// A stop request does not cut retries short: the in-flight batch, retries,
// dead letters and all, is allowed to finish within the drain timeout, so
// its finished records are committed instead of redelivered.
func (l *lane) sleep(d time.Duration) error {
	l.waitOnPurpose(true)
	defer l.waitOnPurpose(false)
	l.timer.Reset(d)
	defer l.timer.Stop()
	select {
	case <-l.timer.C:
		return nil
	case <-l.ctx.Done():
		return errStopped
	}
}

// backoff is the wait before retry number attempt (1-based): the initial
// backoff doubled per attempt, capped, with ±20% jitter so members that
// failed together do not retry together.
func backoff(c RetryConfig, attempt int) time.Duration {
	d := c.InitialBackoff << min(attempt-1, 30)
	if d > c.MaxBackoff || d <= 0 {
		d = c.MaxBackoff
	}
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// DLQTopic returns the dead-letter topic for input topic under cfg.
func DLQTopic(cfg Config, topic string) string {
	if cfg.DLQTopic != "" {
		return cfg.DLQTopic
	}
	return topic + ".dlq"
}

// deadLetter writes r to the dead-letter topic and waits for the brokers'
// acknowledgement; only then may the source offset be committed. The client
// already retries retriable errors for producer.delivery_timeout, so a
// failed write is tried at most processor.retry.max_attempts times, and an
// error no retry can fix (the record with its headers is over the topic's
// size limit, no authorization) is not retried at all. The error it
// returns halts the partition; errStopped means the lane was abandoned.
func (l *lane) deadLetter(r *kgo.Record, cause error, attempts int) error {
	p := l.p
	dl := &kgo.Record{
		Topic: DLQTopic(p.cfg, l.topic),
		Key:   r.Key,
		Value: r.Value,
		Headers: append(append([]kgo.RecordHeader(nil), r.Headers...),
			kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
			kgo.RecordHeader{Key: HeaderDLQOffset, Value: strconv.AppendInt(nil, r.Offset, 10)},
			kgo.RecordHeader{Key: HeaderDLQError, Value: []byte(cause.Error())},
			kgo.RecordHeader{Key: HeaderDLQAttempts, Value: strconv.AppendInt(nil, int64(attempts), 10)},
			kgo.RecordHeader{Key: HeaderDLQTime, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
		),
	}
	for attempt := 1; ; attempt++ {
		// A fresh copy per attempt: the client stamps a record's timestamp
		// on its first produce and counts the delivery timeout from it, so
		// reusing one record made every retry after producer.delivery_timeout
		// fail at once.
		rec := *dl
		l.waitOnPurpose(true)
		err := p.cl.ProduceSync(l.ctx, &rec).FirstErr()
		l.waitOnPurpose(false)
		if err == nil {
			return nil
		}
		if l.ctx.Err() != nil {
			return errStopped
		}
		l.m.dlqError()
		if !retriableDLQ(err) || attempt >= max(p.cfg.Retry.MaxAttempts, 1) {
			return fmt.Errorf("writing dead letter to %s failed after %d attempts (%w); the record failed with: %w", dl.Topic, attempt, err, cause)
		}
		p.log.Warn("writing a dead letter failed; retrying", "topic", dl.Topic, "offset", r.Offset, "attempt", attempt, "err", err)
		if err := l.sleep(backoff(p.cfg.Retry, attempt)); err != nil {
			return err
		}
	}
}

// retriableDLQ reports whether writing a dead letter again can succeed.
func retriableDLQ(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return true // timeouts, a full buffer, a lost connection
}
