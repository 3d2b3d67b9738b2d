package verify

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kgo"
)

// committedFilter turns one partition's records, read read_uncommitted
// with the transaction markers, into what a read_committed reader sees
// below the last stable offset lso, in offset order: non-transactional
// records, and a transaction's records once its commit marker is read
// (an abort marker drops them). Records at or past lso are not passed on,
// but their markers are read: a transaction that ended before lso was
// measured can have its marker past lso (another transaction, still open,
// pins lso below it), though never past the high watermark measured after
// lso.
//
// readTopic filters itself instead of reading read_committed because a
// read_committed client cannot tell how far it got: when the last records
// before lso belong to an aborted transaction it drops them and returns
// nothing, so a reader waiting for the record at lso-1 waited until the
// open transaction ended, or for ever.
type committedFilter struct {
	lso   int64
	fn    func(*kgo.Record)
	n     int64
	queue []held // records behind an undecided transactional one
	prods map[int64]*txns
}

// held is a queued record; txn numbers its producer's transactions in
// this partition (the markers of that producer read before it).
type held struct {
	r   *kgo.Record
	txn int
}

// txns is one producer's transactions in the partition: a producer's
// records between two of its markers belong to one transaction, so the
// next marker decides every record read since the previous one.
type txns struct {
	markers int    // markers read: the number of the current transaction
	base    int    // the transaction number of outcomes[0]
	outcome []bool // decided transactions from base: true if committed
}

func newCommittedFilter(lso int64, fn func(*kgo.Record)) *committedFilter {
	return &committedFilter{lso: lso, fn: fn, prods: map[int64]*txns{}}
}

func (f *committedFilter) producer(id int64) *txns {
	p := f.prods[id]
	if p == nil {
		p = new(txns)
		f.prods[id] = p
	}
	return p
}

// add takes the partition's next record, offsets ascending.
func (f *committedFilter) add(r *kgo.Record) {
	switch {
	case r.Attrs.IsControl():
		if !r.Attrs.IsTransactional() {
			return
		}
		// The marker's key: version int16, then type int16 (0 abort,
		// 1 commit).
		p := f.producer(r.ProducerID)
		p.outcome = append(p.outcome, len(r.Key) >= 4 && binary.BigEndian.Uint16(r.Key[2:4]) == 1)
		p.markers++
	case r.Offset >= f.lso:
		return
	case r.Attrs.IsTransactional():
		f.queue = append(f.queue, held{r, f.producer(r.ProducerID).markers})
	default:
		f.queue = append(f.queue, held{r: r, txn: -1})
	}
	f.drain()
}

// drain passes on the queue's head while it is decided.
func (f *committedFilter) drain() {
	for len(f.queue) > 0 {
		h := f.queue[0]
		if h.txn >= 0 {
			p := f.prods[h.r.ProducerID]
			// Transactions before this one have no records left.
			drop := min(h.txn-p.base, len(p.outcome))
			p.outcome, p.base = p.outcome[drop:], p.base+drop
			if h.txn-p.base >= len(p.outcome) {
				return // its marker is not read yet
			}
			if !p.outcome[h.txn-p.base] {
				f.queue = f.queue[1:]
				continue // aborted
			}
		}
		f.fn(h.r)
		f.n++
		f.queue = f.queue[1:]
	}
}
