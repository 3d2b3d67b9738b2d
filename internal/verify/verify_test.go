package verify

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/event"
)

func rec(producer string, seq uint64, key string) *kgo.Record {
	r := &kgo.Record{Key: []byte(key), Value: []byte(strconv.FormatUint(seq, 10))}
	event.Stamp(r, event.ID{Producer: producer, Seq: seq})
	return r
}

func TestChecker(t *testing.T) {
	c := NewChecker()
	for s := uint64(0); s < 10; s++ {
		c.Input(rec("p", s, "k"+strconv.FormatUint(s%2, 10)))
	}
	c.Input(&kgo.Record{Value: []byte("no identity")})
	// Output: 0..9 except 3 (dead-lettered) and 7 (lost); 4 twice; 8 before 6 on key k0.
	for _, s := range []uint64{0, 1, 2, 4, 4, 5, 8, 6, 9} {
		c.Output(rec("p", s, "k"+strconv.FormatUint(s%2, 10)))
	}
	c.Output(rec("other", 1, "x"))
	c.DeadLetter(rec("p", 3, "k1"))
	r := c.Report()
	want := Counts{Produced: 10, Delivered: 8, Lost: 1, Duplicated: 1, OutOfOrder: 1, DeadLettered: 1}
	if r.Total != want {
		t.Fatalf("total %+v, want %+v", r.Total, want)
	}
	if r.Unidentified != 1 || r.Strays != 1 || len(r.Producers) != 1 {
		t.Fatalf("report %+v", r)
	}
	if len(r.ProblemKeys) != 2 {
		t.Fatalf("problem keys %+v", r.ProblemKeys)
	}
}
