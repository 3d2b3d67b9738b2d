// Package producer writes events to Kafka: the client options that carry
// the producer settings, a rate-controlled generator of identifiable events,
// and a line reader for files and stdin.
package producer

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

// ClientOptions returns the kgo options that apply cfg's producer settings.
// cfg.DeliveryTimeout becomes franz-go's RecordDeliveryTimeout, which counts
// from each record's timestamp: right for records stamped as they are
// produced. A client writing records that keep an older timestamp takes
// ForwardClientOptions.
func ClientOptions(cfg Config) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(int32(cfg.BatchMaxBytes)),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.ProducerBatchCompression(codec(cfg.Compression)),
	}
	switch cfg.Acks {
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !cfg.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts
}

// ForwardClientOptions returns the options of a client that writes records
// keeping the timestamp of the records they copy, as the forward handler
// does: ClientOptions without the record delivery timeout. franz-go counts
// that timeout from the record's timestamp, not from the produce call, so
// after an outage longer than cfg.DeliveryTimeout every record of the
// backlog would fail before it was sent. The writer bounds delivery itself,
// with a context deadline of cfg.DeliveryTimeout from its produce call.
func ForwardClientOptions(cfg Config) []kgo.Opt {
	// Options apply in order: this one undoes ClientOptions' timeout.
	return append(ClientOptions(cfg), kgo.RecordDeliveryTimeout(0))
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
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
	// firstErr keeps the first produce error to report at the end.
	firstErr atomic.Pointer[error]
}

// newSender returns a sender writing to topic through cl. m may be nil;
// otherwise topic's counters are created at 0 here, before the first record.
func newSender(cl *kgo.Client, topic string, m *metrics.Metrics, onAck func(*kgo.Record)) *sender {
	s := &sender{cl: cl, topic: topic, stats: &Stats{}, onAck: onAck}
	if m != nil {
		s.produced, s.failed = m.ProducerCounters(topic)
	}
	return s
}

func (s *sender) send(r *kgo.Record) {
	s.stats.produced.Add(1)
	// The record context is not the run's: a cancelled run still lets
	// buffered records finish, and Flush waits for them.
	s.cl.Produce(context.Background(), r, s.done)
}

func (s *sender) done(r *kgo.Record, err error) {
	if err != nil {
		s.stats.failed.Add(1)
		s.firstErr.CompareAndSwap(nil, &err)
		if s.failed != nil {
			s.failed.Inc()
		}
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

// finish waits for buffered records within timeout and returns the first
// produce error, if any.
func (s *sender) finish(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing %d unacknowledged records: %w",
			s.stats.produced.Load()-s.stats.acked.Load()-s.stats.failed.Load(), err)
	}
	if p := s.firstErr.Load(); p != nil {
		return fmt.Errorf("producing to %s: %d records failed, first: %w", s.topic, s.stats.failed.Load(), *p)
	}
	return nil
}
