package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Backlog is a topic pre-filled for the drain measurement: Records records
// of Size value bytes in the benchmark's partitions.
type Backlog struct {
	Size    int `json:"record_bytes"`
	Records int `json:"records"`
	// Compressible values are JSON-like text that lz4 (veltrix's default
	// codec, which writes them) shrinks about 3×; the others are random
	// bytes written uncompressed, so the bytes on the wire are the bytes
	// decoded.
	Compressible bool `json:"compressible"`
}

// Payload names the kind of values: random or compressible.
func (b Backlog) Payload() string {
	if b.Compressible {
		return "compressible"
	}
	return "random"
}

func (b Backlog) String() string {
	return fmt.Sprintf("%d × %d B %s", b.Records, b.Size, b.Payload())
}

// BacklogInfo is a backlog as filled on one cluster.
type BacklogInfo struct {
	Cluster string `json:"cluster"`
	Backlog
	// BatchBytes is the uncompressed size of the topic's record batches:
	// what one pass over the topic fetches and decodes, the denominator of
	// the fetch amplification. WireBytes is the same batches as stored and
	// sent (compressed).
	BatchBytes  int64   `json:"batch_bytes"`
	WireBytes   int64   `json:"wire_bytes"`
	FillSeconds float64 `json:"fill_seconds"`
	topic       string
}

// values makes the values of a backlog: distinct per record, so that
// compression works across records as it would on real data and not on
// copies of one value.
type values struct {
	size         int
	compressible bool
	pool         []byte // random bytes; values are windows into it
	seq          int
}

func newValues(b Backlog) *values {
	v := &values{size: b.Size, compressible: b.Compressible, pool: make([]byte, 1<<20+b.Size)}
	for i := range v.pool {
		v.pool[i] = byte(rand.Uint32())
	}
	return v
}

// filler is the repetitive text of real events (field names,
// enumerations) between their varying parts.
const filler = `","status":"pending","region":"eu-1","v":"`

func (v *values) next() []byte {
	v.seq++
	off := rand.IntN(len(v.pool) - v.size)
	if !v.compressible {
		return v.pool[off : off+v.size : off+v.size]
	}
	// Varying hex (12 characters of 6 random bytes) alternates with the
	// filler, about a quarter of each value: lz4 shrinks these values
	// about 3×, as it does typical JSON events, at every size.
	b := make([]byte, 0, v.size+len(filler)+12)
	b = fmt.Appendf(b, `{"seq":%d,"id":"`, v.seq)
	for i := 0; len(b) < v.size-2; i += 6 {
		b = fmt.Appendf(b, "%x", v.pool[off+i%v.size:off+i%v.size+6])
		b = append(b, filler...)
	}
	b = append(b[:v.size-2], `"}`...)
	return b
}

// fillBacklog creates topic and writes the backlog with a plain franz-go
// producer in this process, then reads it back once to size it.
func fillBacklog(ctx context.Context, c cluster, topic string, b Backlog) (BacklogInfo, error) {
	info := BacklogInfo{Cluster: c.name, Backlog: b, topic: topic}
	start := time.Now()
	if err := createTopic(ctx, c.brokers, topic); err != nil {
		return info, err
	}
	codec := kgo.NoCompression()
	if b.Compressible {
		codec = kgo.Lz4Compression()
	}
	s := equalProduce
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ClientID("vbench-fill"),
		kgo.ProducerLinger(s.Linger), kgo.ProducerBatchMaxBytes(int32(s.BatchMaxBytes)), kgo.ProducerBatchCompression(codec),
		kgo.MaxBufferedRecords(s.MaxBuffered), kgo.RecordDeliveryTimeout(2*time.Minute))
	if err != nil {
		return info, err
	}
	defer cl.Close()
	vals := newValues(b)
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	for i := 0; i < b.Records && ctx.Err() == nil; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: vals.next()}, func(_ *kgo.Record, err error) {
			if err != nil && failed.Add(1) == 1 {
				firstErr.Store(&err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return info, fmt.Errorf("filling %s: %w", topic, err)
	}
	if p := firstErr.Load(); p != nil {
		return info, fmt.Errorf("filling %s: %d records failed, first: %w", topic, failed.Load(), *p)
	}
	info.BatchBytes, info.WireBytes, err = sizeBacklog(ctx, c, topic, b.Records)
	info.FillSeconds = time.Since(start).Seconds()
	return info, err
}

// batchBytes is a kgo hook adding up the record batches a client decodes.
type batchBytes struct{ uncompressed, compressed atomic.Int64 }

var _ kgo.HookFetchBatchRead = (*batchBytes)(nil)

func (h *batchBytes) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	h.uncompressed.Add(int64(m.UncompressedBytes))
	h.compressed.Add(int64(m.CompressedBytes))
}

// sizeBacklog reads topic once from the start with a direct consumer (no
// group, never paused, so nothing is fetched twice) and returns the
// uncompressed and compressed bytes of its batches.
func sizeBacklog(ctx context.Context, c cluster, topic string, n int) (uncompressed, compressed int64, err error) {
	h := &batchBytes{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ClientID("vbench-size"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithHooks(h))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, consumeTimeout)
	defer cancel()
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("sizing %s: read %d of %d records: %w", topic, got, n, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, e error) { err = e })
		if err != nil {
			return 0, 0, fmt.Errorf("sizing %s: %w", topic, err)
		}
		got += fs.NumRecords()
	}
	return h.uncompressed.Load(), h.compressed.Load(), nil
}

// ParseBacklogs reads a comma-separated list of backlogs written
// SIZExRECORDS, with a trailing c for compressible values: "100x3000000,
// 100x3000000c,1024x500000".
func ParseBacklogs(s string) ([]Backlog, error) {
	var out []Backlog
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		b := Backlog{}
		if rest, ok := strings.CutSuffix(f, "c"); ok {
			b.Compressible, f = true, rest
		}
		size, recs, ok := strings.Cut(f, "x")
		var err1, err2 error
		b.Size, err1 = strconv.Atoi(size)
		b.Records, err2 = strconv.Atoi(recs)
		if !ok || err1 != nil || err2 != nil || b.Size <= 0 || b.Records <= 0 {
			return nil, fmt.Errorf("backlog %q: want SIZExRECORDS with an optional trailing c, e.g. 100x3000000c", f)
		}
		out = append(out, b)
	}
	return out, nil
}
