package delivery

import (
	"testing"

	"github.com/veltrix/veltrix/internal/event"
)

func TestTrackerCounts(t *testing.T) {
	tr := NewTracker()
	for s := uint64(0); s < 1000; s++ {
		tr.Acked(event.ID{Producer: "a", Seq: s})
	}
	for s := uint64(0); s < 1000; s++ {
		if s == 7 || s == 999 {
			continue // lost
		}
		tr.Processed(event.ID{Producer: "a", Seq: s})
	}
	tr.Processed(event.ID{Producer: "a", Seq: 5}) // duplicate
	tr.Processed(event.ID{Producer: "b", Seq: 0}) // processed, never acked here
	c := tr.Counts()
	want := Counts{Acked: 1000, Processed: 1000, Distinct: 999, Duplicates: 1, Lost: 2}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}
