package verify

import (
	"errors"
	"strconv"
	"strings"
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

// TestReportErrNothingChecked: a verify that identified no input event
// fails and says why, instead of reporting 0 lost (issue 17).
func TestReportErrNothingChecked(t *testing.T) {
	malformed := &kgo.Record{Headers: []kgo.RecordHeader{{Key: event.HeaderProducer, Value: []byte("p")}, {Key: event.HeaderSeq, Value: []byte("x1")}}}
	for _, tc := range []struct {
		name  string
		input []*kgo.Record
		want  string // "" for no error
	}{
		{"empty input", nil, "the input has no records"},
		{"no identity", []*kgo.Record{{Value: []byte("a")}, {Value: []byte("b")}}, "none of the 2 input records carried an identity"},
		{"malformed headers", []*kgo.Record{malformed}, "1 had malformed"},
		{"malformed value", []*kgo.Record{{Value: []byte(`{"producer":"p","seq":x}`)}}, "1 had malformed"},
		{"identified by its value", []*kgo.Record{{Value: event.Value(nil, 100, event.ID{Producer: "p", Seq: 3})}}, ""},
		{"one identified", []*kgo.Record{{Value: []byte("a")}, rec("p", 1, "k")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecker()
			for _, r := range tc.input {
				c.Input(r)
			}
			err := c.Report().Err()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Err = %v, want nil", err)
			case tc.want != "" && (!errors.Is(err, ErrNothingChecked) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Err = %v, want ErrNothingChecked saying %q", err, tc.want)
			}
		})
	}
}
