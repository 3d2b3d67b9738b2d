package processor

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFetchSizerCalmAndPressed: while nothing pauses, a partition fetch
// carries up to buffer.max_records records (small fetches cost a drain
// 1.4–1.6 × the CPU); a pause shrinks it to a quarter of that, and it
// grows back only after calmRecords × max_records records read without a
// pause.
func TestFetchSizerCalmAndPressed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Buffer.MaxRecords = 10000
	cfg.Fetch.MaxPartitionBytes = 4 << 20
	f := newFetchSizer(cfg)
	if _, part := f.initial(); part != 4<<20 {
		t.Fatalf("initial partition fetch %d, want the configured 4 MiB", part)
	}
	read := func(recs int) {
		// 100-byte records: 110 bytes each on the wire.
		f.OnFetchBatchRead(kgo.BrokerMetadata{}, "t", 0, kgo.FetchBatchMetrics{NumRecords: recs, CompressedBytes: recs * 110})
		f.resize(nil)
	}
	read(50_000)
	if want := int32(10000 * 110); f.cur != want {
		t.Fatalf("calm partition fetch %d, want %d (max_records records)", f.cur, want)
	}
	f.paused()
	read(10_000)
	if want := int32(2500 * 110); f.cur != want {
		t.Fatalf("pressed partition fetch %d, want %d (a quarter of max_records)", f.cur, want)
	}
	for range calmRecords - 1 {
		read(10_000)
	}
	if want := int32(2500 * 110); f.cur != want {
		t.Fatalf("partition fetch %d before calmRecords × max_records records without a pause, want still %d", f.cur, want)
	}
	read(10_000)
	read(10_000)
	if want := int32(10000 * 110); f.cur != want {
		t.Fatalf("partition fetch %d after a calm stretch, want %d again", f.cur, want)
	}
}

// TestFetchSizerBounds: sizes stay within [64 KiB, max_partition_bytes].
func TestFetchSizerBounds(t *testing.T) {
	cfg := DefaultConfig() // 10,000 records, 1 MiB partition fetches
	f := newFetchSizer(cfg)
	f.OnFetchBatchRead(kgo.BrokerMetadata{}, "t", 0, kgo.FetchBatchMetrics{NumRecords: 100_000, CompressedBytes: 100_000 * 1100})
	f.resize(nil)
	if f.cur != 1<<20 {
		t.Fatalf("partition fetch %d for 1 KiB records, want the 1 MiB ceiling", f.cur)
	}
	f.paused()
	f.OnFetchBatchRead(kgo.BrokerMetadata{}, "t", 0, kgo.FetchBatchMetrics{NumRecords: 100_000, CompressedBytes: 100_000 * 3})
	f.resize(nil)
	if f.cur != minPartitionFetch {
		t.Fatalf("partition fetch %d for 3-byte records, want the %d floor", f.cur, minPartitionFetch)
	}
}
