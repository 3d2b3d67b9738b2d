package faults

import "sync"

// seqSet is a set of event sequence numbers of one producer, as a bitmap:
// a run's events are numbered densely from 0, so a million of them take
// 125 KB.
type seqSet struct {
	mu   sync.Mutex
	bits []uint64
	n    int64
}

func (s *seqSet) add(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := int(seq / 64)
	if w >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, w-len(s.bits)+1)...)
	}
	if s.bits[w]&(1<<(seq%64)) == 0 {
		s.bits[w] |= 1 << (seq % 64)
		s.n++
	}
}

func (s *seqSet) has(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := int(seq / 64)
	return w < len(s.bits) && s.bits[w]&(1<<(seq%64)) != 0
}

func (s *seqSet) len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// each calls fn for every member, in order.
func (s *seqSet) each(fn func(seq uint64)) {
	s.mu.Lock()
	bits := append([]uint64(nil), s.bits...)
	s.mu.Unlock()
	for w, b := range bits {
		for i := range uint64(64) {
			if b&(1<<i) != 0 {
				fn(uint64(w)*64 + i)
			}
		}
	}
}
