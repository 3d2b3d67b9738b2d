package generate

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// BenchmarkGeneratorRecord measures building one generated event (key,
// JSON value, identity headers) and counting its acknowledgement, the
// generator's per-record cost beside the client's.
func BenchmarkGeneratorRecord(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(map[int]string{100: "100B", 1024: "1KiB"}[size], func(b *testing.B) {
			g := NewGenerator(nil, "events", Config{Size: int64(size), Keys: 1000, ID: "bench-producer"}, Options{Metrics: metrics.New(prometheus.NewRegistry())})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r, sl := g.record(uint64(i))
				sl.release(r, nil)
			}
		})
	}
}
