// Package stats measures latency distributions for live status lines and
// run summaries.
package stats

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency is an HDR histogram of durations from 1µs to 1h at 3 significant
// digits, with a second histogram for the current interval. It is safe for
// concurrent use.
type Latency struct {
	mu            sync.Mutex
	total, window *hdrhistogram.Histogram
}

// NewLatency returns an empty Latency.
func NewLatency() *Latency {
	return &Latency{
		total:  hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3),
		window: hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3),
	}
}

// Record adds one duration; values outside 1µs..1h are clamped.
func (l *Latency) Record(d time.Duration) {
	us := min(max(d.Microseconds(), 1), int64(time.Hour/time.Microsecond))
	l.mu.Lock()
	_ = l.total.RecordValue(us)
	_ = l.window.RecordValue(us)
	l.mu.Unlock()
}

// Quantile returns the q-quantile (0..100) of everything recorded.
func (l *Latency) Quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Duration(l.total.ValueAtQuantile(q)) * time.Microsecond
}

// Count is how many durations were recorded.
func (l *Latency) Count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total.TotalCount()
}

// Window returns the q-quantile of what was recorded since the last call,
// and starts a new window.
func (l *Latency) Window(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := time.Duration(l.window.ValueAtQuantile(q)) * time.Microsecond
	l.window.Reset()
	return v
}

// Ms converts d to milliseconds with microsecond precision.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
