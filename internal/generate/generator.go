// Package generate writes identifiable events for the CLI's produce, demo
// and plan commands and the benchmarks: a rate-controlled generator and a
// line reader for files and stdin, each stamping the event identity that
// the delivery checker reads (internal/event). The producer client's
// settings stay in pkg/producer; this package is the CLI's.
package generate

import (
	"context"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/event"
)

// Generator writes identifiable events — a JSON value of the configured
// size naming the producer and the sequence number — at a steady rate.
// The identity headers are added only where the value is too small to hold
// the JSON, or when Config.IdentityHeaders asks for them: on a 100-byte
// value they were 45 more bytes per record, and a producer of bare values
// wrote 1.4 × as many records per second to Kafka.
type Generator struct {
	s   *sender
	cfg Config
	id  string
	// idBytes is the producer header's value, shared by every record: the
	// client only reads header values.
	idBytes []byte
	// value formats the values, the producer's name quoted once.
	value event.ValueFormat
	// cur is the slab events are built in; free holds slabs whose records
	// the client has all released, to build in again.
	cur  *slab
	free chan *slab
}

// NewGenerator returns a generator writing to topic through cl, a client
// built with producer.ClientOptions.
func NewGenerator(cl *kgo.Client, topic string, cfg Config, opts Options) *Generator {
	id := cfg.ID
	if id == "" {
		id = DefaultID()
	}
	return &Generator{s: newSender(cl, topic, opts), cfg: cfg, id: id, idBytes: []byte(id), value: event.NewValueFormat(id),
		free: make(chan *slab, freeSlabs)}
}

// ID is the producer id stamped on the events.
func (g *Generator) ID() string { return g.id }

// Stats are the live counts; safe to read while Run is in progress.
func (g *Generator) Stats() *Stats { return g.s.stats }

// Run generates until Count events were produced, Duration passed or ctx
// is cancelled, then waits for outstanding acknowledgements (at most
// Options.FlushTimeout). It returns the final counts and the first produce
// error, if any.
func (g *Generator) Run(ctx context.Context) (Result, error) {
	g.s.stats.started = time.Now()
	if g.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	var seq uint64
	// Pacing: event n is due at start + n/rate. Each wake-up produces every
	// event that is due, so the rate holds at any granularity of sleep.
	const tick = time.Millisecond
	for g.cfg.Count <= 0 || seq < uint64(g.cfg.Count) {
		if ctx.Err() != nil {
			break
		}
		due := uint64(math.MaxUint64)
		if g.cfg.Rate > 0 {
			due = uint64(time.Since(start).Seconds() * g.cfg.Rate)
		}
		if seq >= due {
			next := start.Add(time.Duration(float64(seq+1) / g.cfg.Rate * float64(time.Second)))
			wait := max(time.Until(next), tick)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		// Produce what is due, in bounded chunks so cancellation is prompt.
		for n := 0; seq < due && n < 1024; n++ {
			if g.cfg.Count > 0 && seq >= uint64(g.cfg.Count) {
				break
			}
			r, sl := g.record(seq)
			g.s.send(r, sl.release)
			seq++
		}
	}
	err := g.s.finish()
	return g.s.stats.Snapshot(), err
}

// generated is one generated event: the record, room for its two identity
// headers and the sequence number's digits.
type generated struct {
	r   kgo.Record
	hdr [2]kgo.RecordHeader
	seq [20]byte
}

// slabEvents is how many events a slab holds.
const slabEvents = 256

// freeSlabs bounds the released slabs kept for reuse; more are left to the
// collector. A steady run builds in a slab as fast as the client releases
// one, so a few are enough.
const freeSlabs = 8

// slab is slabEvents events built, sent and released together: their
// records and one block of their keys' and values' bytes. The client
// releases a record when it calls the record's promise (acknowledged or
// failed) and never touches it again; once it has released all of a
// slab's records, the generator builds in the slab again. So a steady run
// allocates nothing per event and gives the collector nothing new to scan:
// with a fresh slab every 256 events, `veltrix produce` spent 1.24 × the
// plain producer's CPU per 100-byte event; building in released slabs,
// 0.85 ×. At most producer.max_buffered_records / slabEvents + 2 slabs are
// in use at once.
type slab struct {
	events [slabEvents]generated
	bytes  []byte
	// used counts the events built so far; the generator's goroutine
	// only.
	used int
	// pending counts the records sent and not yet released, plus the
	// ones not yet built: it starts at slabEvents.
	pending atomic.Int32
	// release is the promise of the slab's records, bound once.
	release func(*kgo.Record, error)
}

// slabFor returns the slab to build the next event in: the current one
// while it has room, else a released one, else a new one.
func (g *Generator) slabFor() *slab {
	if sl := g.cur; sl != nil && sl.used < slabEvents {
		return sl
	}
	var sl *slab
	select {
	case sl = <-g.free:
		sl.bytes, sl.used = sl.bytes[:0], 0
	default:
		sl = &slab{bytes: make([]byte, 0, slabEvents*(24+int(g.cfg.Size)))}
		sl.release = func(r *kgo.Record, err error) {
			g.s.done(r, err)
			if sl.pending.Add(-1) == 0 {
				select {
				case g.free <- sl:
				default:
				}
			}
		}
	}
	sl.pending.Store(slabEvents)
	g.cur = sl
	return sl
}

// record builds event seq in the current slab and returns it with the
// slab, whose release is the record's promise.
func (g *Generator) record(seq uint64) (*kgo.Record, *slab) {
	sl := g.slabFor()
	e := &sl.events[sl.used]
	sl.used++
	// The client wrote to the record it released (partition, offset,
	// timestamp...): start from zero.
	e.r = kgo.Record{Topic: g.s.topic}
	r := &e.r
	// Key and value are built in place at the end of the slab's bytes,
	// which have room for both (a key is at most 24 bytes).
	buf := sl.bytes[len(sl.bytes):]
	if g.cfg.Keys > 0 {
		key := strconv.AppendUint(append(buf, "key-"...), seq%uint64(g.cfg.Keys), 10)
		r.Key = key[:len(key):len(key)]
		buf = key[len(key):]
	}
	r.Value = g.value.Append(buf, int(g.cfg.Size), seq)
	r.Value = r.Value[:len(r.Value):len(r.Value)]
	sl.bytes = sl.bytes[:len(sl.bytes)+len(r.Key)+len(r.Value)]
	if g.cfg.IdentityHeaders || !event.Carries(r.Value) {
		e.hdr[0] = kgo.RecordHeader{Key: event.HeaderProducer, Value: g.idBytes}
		e.hdr[1] = kgo.RecordHeader{Key: event.HeaderSeq, Value: strconv.AppendUint(e.seq[:0], seq, 10)}
		r.Headers = e.hdr[:]
	}
	return r, sl
}
