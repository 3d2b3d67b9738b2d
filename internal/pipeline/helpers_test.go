package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// quickGroup gives cfg a consumer group of its own with the short timings
// tests need: a 6 s session, and commits and empty fetches every 100 ms.
func quickGroup(t *testing.T, cfg *config.Config) {
	cfg.Processor.Group.ID = kafkatest.Name(t, "g")
	cfg.Processor.Group.SessionTimeout = 6 * time.Second
	cfg.Processor.Group.HeartbeatInterval = 500 * time.Millisecond
	cfg.Processor.Commit.Interval = 100 * time.Millisecond
	cfg.Processor.Fetch.MaxWait = 100 * time.Millisecond
}

// runProcessor connects cfg's pipeline and runs one member of its group
// with the pipeline's handler, as process does, until the test ends; an
// error of the member's then fails the test.
func runProcessor(t *testing.T, cfg config.Config, opts Options) *processor.Processor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pl, err := Connect(ctx, cfg, "-producer", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pl.Close)
	p, err := pl.Processor("-consumer", pl.Handler())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	})
	return p
}

// endTotals sums the end offsets of each topic's partitions: how many
// records each holds; false while they cannot all be listed.
func endTotals(adm *kadm.Client, topics ...string) (map[string]int64, bool) {
	ends, err := adm.ListEndOffsets(context.Background(), topics...)
	if err != nil || ends.Error() != nil {
		return nil, false
	}
	total := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) { total[o.Topic] += o.Offset })
	return total, true
}
