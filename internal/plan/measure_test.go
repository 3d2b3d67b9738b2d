package plan

import (
	"context"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/config"
)

// TestMeasure runs the real engine on the embedded cluster: a handler with
// a known cost must measure at that cost, and a free one far above it.
func TestMeasure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mod      func(c *config.Config)
		lo, hi   float64 // records/s
		duration time.Duration
	}{
		// Two lanes of 10-record batches at 1ms a record: at most 2000/s.
		{"simulate 1ms a record", func(c *config.Config) {
			c.Handler.Name, c.Handler.Simulate.RecordDelay = "simulate", time.Millisecond
			c.Processor.Batch.MaxRecords = 10
		}, 1200, 2050, 1500 * time.Millisecond},
		{"noop", nil, 5000, 1e9, time.Second},
		// forward writes for real, on the client Measure builds for it.
		{"forward", func(c *config.Config) {
			c.Handler.Name, c.Handler.OutputTopic = "forward", "plan-out"
		}, 500, 1e9, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			if tc.mod != nil {
				tc.mod(&c)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			m, err := Measure(ctx, Setup{Processor: c.Processor, Handler: c.Handler, Producer: c.Producer, Generate: c.Generate,
				Partitions: 2, Duration: tc.duration, Backlog: 20000})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", m)
			if m.Rate < tc.lo || m.Rate > tc.hi || m.Records == 0 || m.Records > 20000 {
				t.Errorf("rate %.0f records/s (%d records in %.2fs), want %.0f..%.0f", m.Rate, m.Records, m.Seconds, tc.lo, tc.hi)
			}
			if m.BatchP99 < m.BatchP50 || m.AvgBatch <= 0 {
				t.Errorf("batch stats %+v", m)
			}
		})
	}
}
