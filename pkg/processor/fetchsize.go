package processor

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// minPartitionFetch is the smallest per-partition fetch the sizer asks for:
// below it, request overhead dominates.
const minPartitionFetch = 64 << 10

// calmRecords is how many records must be read with no pause before the
// sizer goes back from pressed to calm sizes, in buffer.max_records.
const calmRecords = 8

// fetchSizer sizes the consumer's fetches from the buffer bounds.
//
// franz-go fetches one response ahead per broker. When flow pauses a
// partition, the part of that response for the partition is dropped and
// fetched again after the resume, so every pause costs a refetch of one
// partition fetch. With 100-byte compressible records, 1 MiB partition
// fetches carried tens of thousands of records against a 10,000-record
// queue bound: every fetch paused its partition, and a backlog was fetched
// almost five times over.
//
// Small fetches are not free either: a drain of 100-byte records with
// quarter-size fetches cost 1.4–1.6 × the CPU of the same drain with 1 MiB
// fetches (twice the GC cycles over a smaller heap, more round trips, idle
// gaps filled by the runtime's idle GC workers). So the sizer has two
// sizes, from the wire bytes per record it learns from the batches the
// client reads (OnFetchBatchRead):
//
//   - calm, while nothing pauses: a partition fetch of up to
//     buffer.max_records records, so that no single fetch overflows a queue
//     and causes a pause of its own;
//   - pressed, from a pause until calmRecords × buffer.max_records records
//     were read without one: a quarter of buffer.max_records, so a pause
//     throws away at most a quarter of the work between two pauses.
//
// Both stay within [64 KiB, processor.fetch.max_partition_bytes]; a whole
// response is held to a quarter of processor.buffer.max_bytes, within
// processor.fetch.max_bytes. Brokers still return a whole first record
// batch when it is larger (KIP-74), so producer batch sizes set a floor.
type fetchSizer struct {
	recs, wire atomic.Int64 // read since the last estimate
	pauses     atomic.Int64 // pauses flow made since the poll loop last looked

	maxBytes, maxPart int32 // the configured ceilings
	calm, pressed     int64 // records wanted per partition fetch
	perRecord         int64 // wire bytes per record, 0 before the first estimate
	pressedUntil      int64 // read records (total) up to which sizes stay pressed
	read              int64 // records read in all, as of the last estimate
	cur               int32 // the partition fetch size in force
}

var _ kgo.HookFetchBatchRead = (*fetchSizer)(nil)

func newFetchSizer(cfg Config) *fetchSizer {
	maxPart := clamp32(cfg.Fetch.MaxPartitionBytes)
	maxBytes := clamp32(min(cfg.Fetch.MaxBytes, max(cfg.Buffer.MaxBytes/4, int64(maxPart))))
	return &fetchSizer{maxBytes: maxBytes, maxPart: maxPart, calm: int64(max(cfg.Buffer.MaxRecords, 1)),
		pressed: int64(max(cfg.Buffer.MaxRecords/4, 1)), cur: maxPart, pressedUntil: -1}
}

func clamp32(v int64) int32 { return int32(min(max(v, 1), 1<<31-1)) }

// initial returns the fetch sizes to start with: the configured partition
// size until records have been seen.
func (f *fetchSizer) initial() (maxBytes, maxPart int32) { return f.maxBytes, f.cur }

// OnFetchBatchRead counts the records and wire bytes of each batch read.
func (f *fetchSizer) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	f.recs.Add(int64(m.NumRecords))
	f.wire.Add(int64(m.CompressedBytes))
}

// paused tells the sizer that flow paused partitions. Safe for concurrent
// use.
func (f *fetchSizer) paused() { f.pauses.Add(1) }

// resize updates the client's fetch sizes when a pause switched them to
// pressed, when enough records were read since the last pause to switch
// back to calm, or when a new estimate of the bytes per record moves the
// wanted size by more than a quarter. It is called by the poll loop only.
func (f *fetchSizer) resize(cl *kgo.Client) {
	if n := f.recs.Load(); n >= 4*f.pressed || n >= 100_000 {
		wire := f.wire.Swap(0)
		f.recs.Add(-n)
		f.read += n
		f.perRecord = max(wire/n, 1)
	}
	if f.pauses.Swap(0) > 0 {
		f.pressedUntil = f.read + f.recs.Load() + calmRecords*f.calm
	}
	if f.perRecord == 0 {
		return // nothing read yet: the configured size stands
	}
	target := f.calm
	if f.read < f.pressedUntil {
		target = f.pressed
	}
	want := int32(min(max(f.perRecord*target, minPartitionFetch), int64(f.maxPart)))
	if want > f.cur*5/4 || want < f.cur*3/4 {
		f.cur = want
		if cl != nil {
			cl.UpdateFetchMaxBytes(f.maxBytes, want)
		}
	}
}
