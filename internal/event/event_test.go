package event

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestStampRoundTrip(t *testing.T) {
	r := &kgo.Record{}
	Stamp(r, ID{Producer: "p-1", Seq: 42})
	id, ok := Of(r)
	if !ok || id.Producer != "p-1" || id.Seq != 42 {
		t.Fatalf("got %+v %v", id, ok)
	}
	if _, ok := Of(&kgo.Record{}); ok {
		t.Fatal("unstamped record has an identity")
	}
	bad := &kgo.Record{Headers: []kgo.RecordHeader{{Key: HeaderProducer, Value: []byte("p")}, {Key: HeaderSeq, Value: []byte("x")}}}
	if _, ok := Of(bad); ok {
		t.Fatal("bad sequence accepted")
	}
}

func TestValueSizeAndJSON(t *testing.T) {
	for _, size := range []int{1, 10, 40, 100, 1024} {
		v := Value(nil, size, ID{Producer: "host-123", Seq: 987654})
		if len(v) != size {
			t.Fatalf("size %d: got %d bytes", size, len(v))
		}
		if size >= 100 && !json.Valid(v) {
			t.Fatalf("size %d: not JSON: %s", size, v)
		}
	}
}

// TestValueFormatMatchesValue: the cached format builds Value's bytes.
func TestValueFormatMatchesValue(t *testing.T) {
	for _, producer := range []string{"host-123", `we"ird\name`, ""} {
		f := NewValueFormat(producer)
		for _, size := range []int{1, 10, 40, 100, 1024} {
			for _, seq := range []uint64{0, 7, 987654, 1<<64 - 1} {
				want := Value(nil, size, ID{Producer: producer, Seq: seq})
				if got := f.Append(make([]byte, 3, 8), size, seq); !bytes.Equal(got, want) {
					t.Fatalf("%q size %d seq %d: %q, want %q", producer, size, seq, got, want)
				}
			}
		}
	}
}

func FuzzOf(f *testing.F) {
	f.Add("p", "12")
	f.Fuzz(func(t *testing.T, p, s string) {
		r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: HeaderProducer, Value: []byte(p)}, {Key: HeaderSeq, Value: []byte(s)}}}
		Of(r) // must not panic
	})
}
