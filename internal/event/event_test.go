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

// TestOfReadsGeneratedValues: a generated value carries the identity
// without headers, headers win over it, and anything else in the value is
// no identity; Marked tells a damaged identity from none.
func TestOfReadsGeneratedValues(t *testing.T) {
	for _, producer := range []string{"host-123", `we"ird\name`, "", "ünï"} {
		f := NewValueFormat(producer)
		for _, size := range []int{100, 1024} {
			for _, seq := range []uint64{0, 7, 987654, 1<<64 - 1} {
				v := f.Append(nil, size, seq)
				id, ok := Of(&kgo.Record{Value: v})
				if !Carries(v) || !ok || id != (ID{producer, seq}) {
					t.Fatalf("%q size %d seq %d: Of = %+v %v (carries %v) from %q", producer, size, seq, id, ok, Carries(v), v)
				}
			}
		}
	}
	small := Value(nil, 10, ID{"p", 1})
	if _, ok := Of(&kgo.Record{Value: small}); ok || Carries(small) {
		t.Fatalf("a 10-byte value (padding) has an identity: %q", small)
	}
	r := &kgo.Record{Value: Value(nil, 100, ID{"from-value", 1})}
	Stamp(r, ID{"from-headers", 2})
	if id, _ := Of(r); id != (ID{"from-headers", 2}) {
		t.Fatalf("headers and value: Of = %+v, want the headers' identity", id)
	}
	for _, v := range []string{
		`{"producer":"p","seq":}`, `{"producer":"p","seq":12`, `{"producer":"p","seq":1x}`,
		`{"producer":"p,"seq":1}`, `{"producer":p,"seq":1}`, `{"producer":"p","pad":"x"}`,
		`{"producer":"p","seq":99999999999999999999}`, `{"producer":"p\q","seq":1}`,
	} {
		r := &kgo.Record{Value: []byte(v)}
		if id, ok := Of(r); ok {
			t.Errorf("%s: read %+v", v, id)
		}
		if !Marked(r) {
			t.Errorf("%s: not marked as carrying an identity", v)
		}
	}
	if Marked(&kgo.Record{Value: []byte(`{"user":1}`)}) {
		t.Error("a user's JSON is marked")
	}
}

func FuzzOf(f *testing.F) {
	f.Add("p", "12", []byte(`{"producer":"p","seq":3,"pad":""}`))
	f.Fuzz(func(t *testing.T, p, s string, v []byte) {
		r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: HeaderProducer, Value: []byte(p)}, {Key: HeaderSeq, Value: []byte(s)}}}
		Of(r) // must not panic
		Of(&kgo.Record{Value: v})
	})
}
