package generate

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// Options are the collaborators of a Generator or Lines. Zero values are
// valid.
type Options struct {
	// Metrics counts the records produced and failed per topic; nil counts
	// none.
	Metrics *metrics.Metrics
	// OnAck, when not nil, is called for every acknowledged record, from
	// the client's callback goroutine. The Generator builds another event
	// in the record once OnAck returns: copy what must outlive the call.
	OnAck func(*kgo.Record)
	// FlushTimeout bounds Run's final wait for outstanding
	// acknowledgements; pass the producer's delivery timeout, which no
	// record outlives. 0 waits as long as the client does.
	FlushTimeout time.Duration
}

// DefaultID is the producer id used when none is configured: hostname-pid.
func DefaultID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "veltrix"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// Stats counts a producer's records. Its fields are updated atomically
// while a run is in progress; read them with Snapshot.
type Stats struct {
	produced, acked, failed atomic.Int64
	started                 time.Time
}

// Result is a point-in-time copy of Stats.
type Result struct {
	Produced int64   `json:"produced"` // handed to the client
	Acked    int64   `json:"acked"`    // acknowledged by the brokers
	Failed   int64   `json:"failed"`   // failed after the client's retries
	Seconds  float64 `json:"seconds"`  // since the run started
}

// Snapshot returns the counts so far.
func (s *Stats) Snapshot() Result {
	r := Result{Produced: s.produced.Load(), Acked: s.acked.Load(), Failed: s.failed.Load()}
	if !s.started.IsZero() {
		r.Seconds = time.Since(s.started).Seconds()
	}
	return r
}

// sender produces records and counts their outcomes.
type sender struct {
	cl    *kgo.Client
	topic string
	stats *Stats
	// produced and failed are topic's counters, nil without metrics.
	produced, failed prometheus.Counter
	// onAck, when set, sees every acknowledged record (the demo uses it to
	// know exactly what was written).
	onAck func(*kgo.Record)
	// flush bounds finish; 0 for no bound of its own.
	flush time.Duration
	// firstErr keeps the first produce error to report at the end.
	firstErr atomic.Pointer[error]
}

// newSender returns a sender writing to topic through cl. Without metrics
// in opts it counts nothing; otherwise topic's counters are created at 0
// here, before the first record.
func newSender(cl *kgo.Client, topic string, opts Options) *sender {
	s := &sender{cl: cl, topic: topic, stats: &Stats{}, onAck: opts.OnAck, flush: opts.FlushTimeout}
	if opts.Metrics != nil {
		s.produced, s.failed = opts.Metrics.ProducerCounters(topic)
	}
	return s
}

// send produces r with promise, which must call s.done.
func (s *sender) send(r *kgo.Record, promise func(*kgo.Record, error)) {
	s.stats.produced.Add(1)
	// The record context is not the run's: a cancelled run still lets
	// buffered records finish, and Flush waits for them.
	s.cl.Produce(context.Background(), r, promise)
}

func (s *sender) done(r *kgo.Record, err error) {
	if err != nil {
		s.fail(err)
		return
	}
	s.stats.acked.Add(1)
	if s.produced != nil {
		s.produced.Inc()
	}
	if s.onAck != nil {
		s.onAck(r)
	}
}

// fail counts a failed record. It is apart from done because it keeps
// the error's address: in done, that moved err to the heap on every call,
// one allocation per acknowledged record.
func (s *sender) fail(err error) {
	s.stats.failed.Add(1)
	s.firstErr.CompareAndSwap(nil, &err)
	if s.failed != nil {
		s.failed.Inc()
	}
}

// finish waits for buffered records within the flush timeout and returns
// the first produce error, if any.
func (s *sender) finish() error {
	ctx := context.Background()
	if s.flush > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.flush)
		defer cancel()
	}
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing %d unacknowledged records: %w",
			s.stats.produced.Load()-s.stats.acked.Load()-s.stats.failed.Load(), err)
	}
	if p := s.firstErr.Load(); p != nil {
		return fmt.Errorf("producing to %s: %d records failed, first: %w", s.topic, s.stats.failed.Load(), *p)
	}
	return nil
}
