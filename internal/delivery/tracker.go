// Package delivery keeps account of which identified events were
// acknowledged and which were processed, to report lost and duplicated
// events exactly.
package delivery

import (
	"sync"

	"github.com/veltrix/veltrix/internal/event"
)

// Tracker records acknowledged and processed events by identity. Memory is
// two bits per sequence number per producer. It is safe for concurrent use.
type Tracker struct {
	mu        sync.Mutex
	acked     map[string]*bitset
	seen      map[string]*bitset
	nAcked    int64
	processed int64 // every processing, duplicates included
	distinct  int64
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{acked: map[string]*bitset{}, seen: map[string]*bitset{}}
}

// Acked records that the brokers acknowledged id.
func (t *Tracker) Acked(id event.ID) {
	t.mu.Lock()
	if set(t.acked, id) {
		t.nAcked++
	}
	t.mu.Unlock()
}

// Processed records that a handler finished id.
func (t *Tracker) Processed(id event.ID) {
	t.mu.Lock()
	t.processed++
	if set(t.seen, id) {
		t.distinct++
	}
	t.mu.Unlock()
}

// Counts is a snapshot of a Tracker.
type Counts struct {
	Acked      int64 // distinct events acknowledged
	Processed  int64 // processings, duplicates included
	Distinct   int64 // distinct events processed
	Duplicates int64 // Processed - Distinct
	Lost       int64 // acknowledged but never processed
}

// Counts returns the current counts. Lost is exact: it walks the
// acknowledged set, so call it at the end of a run, not per second.
func (t *Tracker) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := Counts{Acked: t.nAcked, Processed: t.processed, Distinct: t.distinct, Duplicates: t.processed - t.distinct}
	for p, a := range t.acked {
		c.Lost += a.missingFrom(t.seen[p])
	}
	return c
}

// Quick returns acknowledged and distinct processed counts without the
// walk that Lost needs; cheap enough for a status line.
func (t *Tracker) Quick() (acked, distinct, processed int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.nAcked, t.distinct, t.processed
}

func set(m map[string]*bitset, id event.ID) bool {
	b, ok := m[id.Producer]
	if !ok {
		b = &bitset{}
		m[id.Producer] = b
	}
	return b.set(id.Seq)
}

type bitset struct{ words []uint64 }

// set sets bit i and reports whether it was clear.
func (b *bitset) set(i uint64) bool {
	w := int(i / 64)
	if w >= len(b.words) {
		b.words = append(b.words, make([]uint64, w-len(b.words)+1+len(b.words)/2)...)
	}
	mask := uint64(1) << (i % 64)
	was := b.words[w]&mask != 0
	b.words[w] |= mask
	return !was
}

// missingFrom counts bits set in b and clear in other.
func (b *bitset) missingFrom(other *bitset) int64 {
	var n int64
	for i, w := range b.words {
		var o uint64
		if other != nil && i < len(other.words) {
			o = other.words[i]
		}
		n += int64(popcount(w &^ o))
	}
	return n
}

func popcount(x uint64) int {
	n := 0
	for x != 0 {
		x &= x - 1
		n++
	}
	return n
}
