package generate

import (
	"bytes"
	"errors"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/event"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// TestGeneratorRecordsInSlabs: records built in shared slabs keep their
// own key, value and headers while many more are built after them (no
// record overwrites another, across slab boundaries too), and their values
// are event.Value's.
func TestGeneratorRecordsInSlabs(t *testing.T) {
	for _, size := range []int64{1, 100, 1024} {
		g := NewGenerator(nil, "events", Config{Size: size, Keys: 1000, ID: "gen-test"}, Options{})
		const n = 3*slabEvents + 17
		recs := make([]*kgo.Record, 0, n)
		for seq := range uint64(n) {
			r, _ := g.record(seq)
			recs = append(recs, r)
		}
		for seq, r := range recs {
			g.record(uint64(n + seq)) // more records after it
			if want := "key-" + strconv.Itoa(seq%1000); string(r.Key) != want {
				t.Fatalf("size %d seq %d: key %q, want %q", size, seq, r.Key, want)
			}
			if want := event.Value(nil, int(size), event.ID{Producer: "gen-test", Seq: uint64(seq)}); !bytes.Equal(r.Value, want) {
				t.Fatalf("size %d seq %d: value %q, want %q", size, seq, r.Value, want)
			}
			if id, ok := event.Of(r); !ok || id != (event.ID{Producer: "gen-test", Seq: uint64(seq)}) || r.Topic != "events" {
				t.Fatalf("size %d seq %d: identity %+v %v, topic %q", size, seq, id, ok, r.Topic)
			}
		}
	}
}

// TestGeneratorHeadersOnlyWhereNeeded: a value that holds the JSON carries
// the identity alone (the headers were 45 bytes on a 100-byte event); a
// value too small for it, and every event with IdentityHeaders, has the
// headers too.
func TestGeneratorHeadersOnlyWhereNeeded(t *testing.T) {
	for _, c := range []struct {
		size    int64
		headers bool
		want    int
	}{{100, false, 0}, {1024, false, 0}, {10, false, 2}, {100, true, 2}} {
		g := NewGenerator(nil, "events", Config{Size: c.size, ID: "gen-test", IdentityHeaders: c.headers}, Options{})
		r, _ := g.record(12345)
		if len(r.Headers) != c.want {
			t.Errorf("size %d, identity_headers %v: %d headers, want %d", c.size, c.headers, len(r.Headers), c.want)
		}
		if id, ok := event.Of(r); !ok || id != (event.ID{Producer: "gen-test", Seq: 12345}) {
			t.Errorf("size %d, identity_headers %v: identity %+v %v", c.size, c.headers, id, ok)
		}
	}
}

// TestAckAllocatesNothing: counting an acknowledged record allocates
// nothing (keeping the first error's address used to move every call's
// error to the heap), and a failure is still kept.
func TestAckAllocatesNothing(t *testing.T) {
	s := newSender(nil, "events", Options{Metrics: metrics.New(prometheus.NewRegistry())})
	r := &kgo.Record{}
	if a := testing.AllocsPerRun(1000, func() { s.done(r, nil) }); a != 0 {
		t.Fatalf("%v allocations per acknowledged record, want 0", a)
	}
	boom := errors.New("boom")
	s.done(r, boom)
	if p := s.firstErr.Load(); p == nil || *p != boom || s.stats.failed.Load() != 1 {
		t.Fatalf("failure not kept: %v, failed %d", p, s.stats.failed.Load())
	}
}
