// Package event gives generated events an identity — the producer that
// wrote them and a sequence number — so a pipeline can be checked for
// lost, duplicated and reordered events. A generated event carries it in
// its JSON value ({"producer":…,"seq":…}); events whose value cannot hold
// it (user payloads, values too small for the JSON) carry it in two record
// headers, which a generator can also be asked to add, for pipelines that
// rewrite values but keep headers.
package event

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header names carrying an event's identity.
const (
	HeaderProducer = "veltrix-producer"
	HeaderSeq      = "veltrix-seq"
)

// ID identifies one generated event: its producer and its sequence number,
// which starts at 0 and grows by one per event of that producer.
type ID struct {
	Producer string
	Seq      uint64
}

// Stamp adds id's headers to r.
func Stamp(r *kgo.Record, id ID) {
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: HeaderProducer, Value: []byte(id.Producer)},
		kgo.RecordHeader{Key: HeaderSeq, Value: strconv.AppendUint(nil, id.Seq, 10)},
	)
}

// Of returns the identity of r: from its identity headers when it has
// them, else from a generated event's JSON value; false when r carries
// neither (it was not written by a veltrix generator, or a pipeline dropped
// what carried the identity).
func Of(r *kgo.Record) (ID, bool) {
	var id ID
	var haveP, haveS bool
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderProducer:
			id.Producer, haveP = string(h.Value), true
		case HeaderSeq:
			n, err := strconv.ParseUint(string(h.Value), 10, 64)
			if err != nil {
				return ID{}, false
			}
			id.Seq, haveS = n, true
		}
	}
	if haveP || haveS {
		return id, haveP && haveS
	}
	return fromValue(r.Value)
}

// Marked reports whether r looks like it carries an identity — one of the
// headers, or a value that begins as a generated event's does — so an
// identity Of cannot read is malformed rather than absent.
func Marked(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == HeaderProducer || h.Key == HeaderSeq {
			return true
		}
	}
	return bytes.HasPrefix(r.Value, valuePrefix)
}

// The JSON a generated value begins with, around the producer's quoted
// name and the sequence number.
var (
	valuePrefix = []byte(`{"producer":`)
	valueSeq    = []byte(`,"seq":`)
)

// fromValue reads the identity a generated event's value begins with:
// {"producer":"<name>","seq":<n>, then anything.
func fromValue(v []byte) (ID, bool) {
	rest, ok := bytes.CutPrefix(v, valuePrefix)
	if !ok || len(rest) < 2 || rest[0] != '"' {
		return ID{}, false
	}
	end := 1 // the closing quote of the producer's name
	for ; end < len(rest) && rest[end] != '"'; end++ {
		if rest[end] == '\\' {
			end++
		}
	}
	if end >= len(rest) {
		return ID{}, false
	}
	producer, err := strconv.Unquote(string(rest[:end+1]))
	if err != nil {
		return ID{}, false
	}
	rest, ok = bytes.CutPrefix(rest[end+1:], valueSeq)
	if !ok {
		return ID{}, false
	}
	n := 0
	for n < len(rest) && n < 20 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 || n == len(rest) || (rest[n] != ',' && rest[n] != '}') {
		return ID{}, false
	}
	seq, err := strconv.ParseUint(string(rest[:n]), 10, 64)
	if err != nil {
		return ID{}, false
	}
	return ID{Producer: producer, Seq: seq}, true
}

// Carries reports whether a generated value v holds its identity: Value
// and ValueFormat.Append fall back to bare padding below the size the JSON
// needs.
func Carries(v []byte) bool { return bytes.HasPrefix(v, valuePrefix) }

// Value builds a generated event's value: a JSON object naming the
// producer and sequence, padded to exactly size bytes. Below the size the
// object needs, it returns size bytes of padding, which is not JSON.
func Value(dst []byte, size int, id ID) []byte {
	dst = dst[:0]
	dst = append(dst, `{"producer":`...)
	dst = strconv.AppendQuote(dst, id.Producer)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, id.Seq, 10)
	dst = append(dst, `,"pad":"`...)
	if len(dst)+2 > size {
		return pad(dst[:0], size)
	}
	return append(pad(dst, size-2), `"}`...)
}

// ValueFormat builds the values of one producer's events exactly as Value
// does, with the producer's quoted name formatted once instead of per
// event (strconv.AppendQuote was a tenth of `veltrix produce`'s CPU).
type ValueFormat struct {
	prefix []byte // {"producer":"<name>","seq":
}

// NewValueFormat returns the value format of producer's events.
func NewValueFormat(producer string) ValueFormat {
	p := strconv.AppendQuote([]byte(`{"producer":`), producer)
	return ValueFormat{prefix: append(p, `,"seq":`...)}
}

// Append builds the value of event seq into dst[:0], as Value(dst, size,
// ID{producer, seq}) does.
func (f ValueFormat) Append(dst []byte, size int, seq uint64) []byte {
	dst = append(dst[:0], f.prefix...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"pad":"`...)
	if len(dst)+2 > size {
		return pad(dst[:0], size)
	}
	return append(pad(dst, size-2), `"}`...)
}

// padding is copied rather than appended byte by byte.
var padding = []byte(strings.Repeat("x", 1024))

// pad appends 'x' to dst until it is n bytes long.
func pad(dst []byte, n int) []byte {
	for len(dst) < n {
		dst = append(dst, padding[:min(n-len(dst), len(padding))]...)
	}
	return dst
}
