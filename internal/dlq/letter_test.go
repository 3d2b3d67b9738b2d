package dlq

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/processor"
)

func TestPreview(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{nil, "(null)"},
		{[]byte{}, `""`},
		{[]byte("key-1"), "key-1"},
		{[]byte(" padded "), `" padded "`},
		{[]byte(strings.Repeat("é", 30)), strings.Repeat("é", 20) + "…"}, // cut at 40 bytes, on a rune boundary
		{[]byte{0, 1, 0xff}, "0x0001ff"},
		{make([]byte, 100), "0x" + strings.Repeat("00", 20) + "… (100 bytes)"},
	} {
		if got := Preview(tc.in); got != tc.want {
			t.Errorf("Preview(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseBadHeaders(t *testing.T) {
	r := &kgo.Record{Topic: "t.dlq", Headers: []kgo.RecordHeader{
		{Key: processor.HeaderDLQTopic, Value: []byte("t")},
		{Key: processor.HeaderDLQOffset, Value: []byte("x")},
		{Key: HeaderReplayCount, Value: []byte("-1")},
	}}
	_, err := Parse(r)
	if err == nil || !strings.Contains(err.Error(), processor.HeaderDLQOffset) || !strings.Contains(err.Error(), HeaderReplayCount) {
		t.Fatalf("Parse of bad headers: %v", err)
	}
	if _, err := Parse(&kgo.Record{}); !errors.Is(err, ErrNotDeadLetter) {
		t.Fatalf("Parse of a plain record: %v", err)
	}
}

// FuzzParse: no header content makes Parse panic.
func FuzzParse(f *testing.F) {
	f.Add("t", "3", "17", "boom", "3", "2026-01-01T00:00:00Z", "2")
	f.Fuzz(func(_ *testing.T, topic, part, off, msg, attempts, at, replays string) {
		_, _ = Parse(&kgo.Record{Headers: []kgo.RecordHeader{
			{Key: processor.HeaderDLQTopic, Value: []byte(topic)},
			{Key: processor.HeaderDLQPartition, Value: []byte(part)},
			{Key: processor.HeaderDLQOffset, Value: []byte(off)},
			{Key: processor.HeaderDLQError, Value: []byte(msg)},
			{Key: processor.HeaderDLQAttempts, Value: []byte(attempts)},
			{Key: processor.HeaderDLQTime, Value: []byte(at)},
			{Key: HeaderReplayCount, Value: []byte(replays)},
		}})
	})
}
