package processor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

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

// errStopped means the lane was stopped before a batch finished; the batch
// is not completed and will be redelivered to the partition's next owner.
var errStopped = errors.New("lane stopped")

// process handles one batch: retries, isolation of failing records, and
// the on_failure policy. It returns false when the lane must stop (it was
// stopped, or the partition halted).
func (l *lane) process(recs []*kgo.Record) bool {
	p := l.p
	failed, err := l.try(recs)
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
		case "skip":
			p.m.failed("skip")
			p.log.Warn("skipping a record that failed all attempts", "partition", r.Partition, "offset", r.Offset, "attempts", attempts, "err", ferr)
		case "dlq":
			if err := l.deadLetter(r, ferr, attempts); err != nil {
				return false
			}
			p.m.failed("dlq")
		default: // halt
			p.m.failed("halt")
			l.halted.Store(true)
			p.m.halted(1)
			p.m.done(l.e2e, recs[:i], i-countBelow(failed, i), time.Now())
			if i > 0 {
				l.complete(recs[i-1])
			}
			p.dropQueued(l)
			p.log.Error("partition halted: a record failed all attempts; nothing past it will be committed until restart",
				"partition", r.Partition, "offset", r.Offset, "attempts", attempts, "err", ferr)
			if p.cl != nil {
				p.cl.PauseFetchPartitions(map[string][]int32{p.topic: {l.part}})
			}
			return false
		}
	}
	now := time.Now()
	p.m.done(l.e2e, recs, len(recs)-len(failed), now)
	l.complete(recs[len(recs)-1])
	return true
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
// take the good ones of its batch down with it.
func (l *lane) try(recs []*kgo.Record) (map[int]error, error) {
	p := l.p
	pending := make([]int, len(recs))
	for i := range pending {
		pending[i] = i
	}
	errs := map[int]error{}
	whole := false
	sub := make([]*kgo.Record, 0, len(recs))
	for attempt := 1; ; attempt++ {
		sub = sub[:0]
		for _, i := range pending {
			sub = append(sub, recs[i])
		}
		err := l.call(sub)
		if err == nil {
			return nil, nil
		}
		clear(errs)
		var re *RecordErrors
		if errors.As(err, &re) && len(re.Errs) > 0 {
			next := make([]int, 0, len(re.Errs))
			for j, i := range pending {
				if e, ok := re.Errs[j]; ok {
					next = append(next, i)
					errs[i] = e
				}
			}
			pending, whole = next, false
		} else {
			for _, i := range pending {
				errs[i] = err
			}
			whole = true
		}
		if attempt >= p.cfg.Retry.MaxAttempts {
			break
		}
		p.m.retry()
		if err := l.sleep(backoff(p.cfg.Retry, attempt)); err != nil {
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
// panic into an error.
func (l *lane) call(recs []*kgo.Record) (err error) {
	p := l.p
	b := &Batch{Topic: p.topic, Partition: l.part, Records: recs}
	start := time.Now()
	defer func() { p.m.handled(len(recs), time.Since(start)) }()
	if p.opts.HandlerTimeout <= 0 {
		return safeHandle(l.ctx, p.h, b)
	}
	ctx, cancel := context.WithTimeout(l.ctx, p.opts.HandlerTimeout)
	defer cancel()
	ch := make(chan error, 1)
	// A handler that ignores ctx keeps running in its goroutine after the
	// timeout; the engine moves on, so the retry may overlap it.
	go func() { ch <- safeHandle(ctx, p.h, b) }()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		if l.ctx.Err() != nil {
			return errStopped
		}
		return fmt.Errorf("handler exceeded handler.timeout (%s)", p.opts.HandlerTimeout)
	}
}

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
// acknowledgement, retrying until it is written or the lane stops. Only then
// may the source offset be committed.
func (l *lane) deadLetter(r *kgo.Record, cause error, attempts int) error {
	p := l.p
	dl := &kgo.Record{
		Topic: DLQTopic(p.cfg, p.topic),
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
		err := p.cl.ProduceSync(l.ctx, dl).FirstErr()
		if err == nil {
			return nil
		}
		p.log.Warn("writing a dead letter failed; retrying", "topic", dl.Topic, "offset", r.Offset, "attempt", attempt, "err", err)
		if err := l.sleep(backoff(p.cfg.Retry, attempt)); err != nil {
			return err
		}
	}
}
