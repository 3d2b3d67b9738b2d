package processor

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// minPartitionFetch is the smallest per-partition fetch the sizer asks for:
// below it, request overhead dominates.
const minPartitionFetch = 64 << 10

// fetchSizer sizes the consumer's fetches from the buffer bounds.
//
// franz-go fetches one response ahead per broker. When flow pauses a
// partition, the part of that response for the partition is dropped and
// fetched again after the resume, so every pause costs a refetch of one
// partition fetch. That is cheap only while a partition fetch is small
// against the work between two pauses (half of processor.buffer.max_records):
// with 100-byte compressible records, 1 MiB partition fetches carried tens
// of thousands of records against a 10,000-record queue bound, and a backlog
// was fetched almost five times over.
//
// The sizer learns the wire bytes per record from the batches the client
// reads (OnFetchBatchRead) and asks for a quarter of buffer.max_records per
// partition fetch, within [64 KiB, processor.fetch.max_partition_bytes]; a
// whole response is held to a quarter of processor.buffer.max_bytes, within
// processor.fetch.max_bytes. Brokers still return a whole first record
// batch when it is larger (KIP-74), so producer batch sizes set a floor.
type fetchSizer struct {
	recs, wire atomic.Int64 // read since the last resize

	maxBytes, maxPart int32 // the configured ceilings
	target            int64 // records wanted per partition fetch
	cur               int32 // the partition fetch size in force
}

var _ kgo.HookFetchBatchRead = (*fetchSizer)(nil)

func newFetchSizer(cfg Config) *fetchSizer {
	maxPart := clamp32(cfg.Fetch.MaxPartitionBytes)
	maxBytes := clamp32(min(cfg.Fetch.MaxBytes, max(cfg.Buffer.MaxBytes/4, int64(maxPart))))
	return &fetchSizer{maxBytes: maxBytes, maxPart: maxPart, target: int64(max(cfg.Buffer.MaxRecords/4, 1)), cur: maxPart}
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

// resize updates the client's fetch sizes once enough records were read to
// know their size and the wanted size differs from the current one by more
// than a quarter. It is called by the poll loop only.
func (f *fetchSizer) resize(cl *kgo.Client) {
	n := f.recs.Load()
	if n < 4*f.target && n < 100_000 {
		return
	}
	wire := f.wire.Swap(0)
	f.recs.Add(-n)
	perRecord := max(wire/n, 1)
	want := int32(min(max(perRecord*f.target, minPartitionFetch), int64(f.maxPart)))
	if want > f.cur*5/4 || want < f.cur*3/4 {
		f.cur = want
		cl.UpdateFetchMaxBytes(f.maxBytes, want)
	}
}
