package processor

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
)

// window is one partition's offset window in key and none ordering: the
// records taken from the partition's queue, in offset order, each finished
// or not, from the lowest unfinished one on. Records finish out of order
// (different sub-lanes), but the partition's commit is always the offset of
// the lowest unfinished record, or just past the last record taken when all
// are finished: everything below it is done (or is a transaction marker or
// a compaction gap), so a commit never skips unfinished work.
//
//	committed  lowest unfinished                           next
//	    |            |                                      |
//	... ✓ ✓ ✓ ✓ ✓ ✓ [5 ✓ ✓ 8 ✓ 10 11 ✓ ✓ 14 ✓ ✓ 17 18 ✓ ✓ ] ...
//	                 <------ span: at most max_in_flight ---->
//
// The span (entries from the lowest unfinished one to the last taken,
// finished or not) is what processor.max_in_flight bounds: a record that
// never finishes holds the window, not memory without limit. It is not safe
// for concurrent use (keyed.mu guards it).
type window struct {
	ents    []winEntry // ents[head:] is the window; ents[head] is unfinished when any is
	head    int
	pending int             // unfinished entries
	next    kgo.EpochOffset // just past the last record taken, control records included
	hasNext bool
}

type winEntry struct {
	off   int64
	at    int64 // when it was taken, Unix nanoseconds (the oldest one's age is exported)
	epoch int32
	done  bool
}

// add takes a record into the window; offsets must increase.
func (w *window) add(off int64, epoch int32, at int64) {
	w.ents = append(w.ents, winEntry{off: off, epoch: epoch, at: at})
	w.pending++
	w.advance(off, epoch)
}

// advance records that every offset up to off was taken (a control record
// has no entry: nothing handles it, so it is finished when taken).
func (w *window) advance(off int64, epoch int32) {
	if !w.hasNext || off+1 > w.next.Offset {
		w.next, w.hasNext = kgo.EpochOffset{Epoch: epoch, Offset: off + 1}, true
	}
}

// finish marks the record at off finished and reports whether it was in
// the window unfinished. The finished prefix leaves the window.
func (w *window) finish(off int64) bool {
	live := w.ents[w.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].off >= off })
	if i == len(live) || live[i].off != off || live[i].done {
		return false
	}
	live[i].done = true
	w.pending--
	for w.head < len(w.ents) && w.ents[w.head].done {
		w.head++
	}
	// Compact once the finished prefix is half the slice: amortised O(1)
	// per record, and the backing array does not grow forever.
	if w.head == len(w.ents) {
		w.ents, w.head = w.ents[:0], 0
	} else if w.head > len(w.ents)/2 {
		n := copy(w.ents, w.ents[w.head:])
		w.ents, w.head = w.ents[:n], 0
	}
	return true
}

// low returns the offset to commit: the lowest unfinished record's, or just
// past the last record taken when every record is finished; false before
// any record was taken.
func (w *window) low() (kgo.EpochOffset, bool) {
	if w.head < len(w.ents) {
		e := w.ents[w.head]
		return kgo.EpochOffset{Epoch: e.epoch, Offset: e.off}, true
	}
	return w.next, w.hasNext
}

// span is how many records the window holds, finished or not, from the
// lowest unfinished one on.
func (w *window) span() int { return len(w.ents) - w.head }

// oldest returns when the lowest unfinished record was taken, Unix
// nanoseconds; false when none is unfinished.
func (w *window) oldest() (int64, bool) {
	if w.head < len(w.ents) {
		return w.ents[w.head].at, true
	}
	return 0, false
}
