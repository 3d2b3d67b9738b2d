package processor

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// TestLagSeriesSurvivesOldLaneRelease: a lane keeps its partition's lag
// series after the first lookup (setLag). When the partition is lost and
// assigned again before the old lane is forgotten, the newer lane already
// holds the same series; forgetting the old lane must not delete it, or the
// newer lane's lag would never be exported again. With no newer lane the
// series goes.
func TestLagSeriesSurvivesOldLaneRelease(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.New(reg)
	p := newProcessor(kafkaConfigForTest(), "t", Config{Commit: CommitConfig{Mode: "interval"}}, nil, Options{Metrics: m})
	lagOf := func() (float64, bool) {
		if testutil.CollectAndCount(m.PartitionLag) == 0 {
			return 0, false
		}
		return testutil.ToFloat64(m.PartitionLag.WithLabelValues(p.cfg.Group.ID, "t", "3")), true
	}

	old := p.laneFor(topicPart{"t", 3})
	old.setLag(5)
	if v, ok := lagOf(); !ok || v != 5 {
		t.Fatalf("lag after the first fetch = %v (exported %v), want 5", v, ok)
	}

	// Lost: the old lane leaves p.lanes; assigned again: a newer lane
	// takes the partition and sets its lag before the old one is forgotten.
	p.mu.Lock()
	delete(p.lanes, old.key())
	p.mu.Unlock()
	newer := p.laneFor(topicPart{"t", 3})
	newer.setLag(7)
	old.stopNow()
	p.forget(old)
	newer.setLag(9)
	if v, ok := lagOf(); !ok || v != 9 {
		t.Fatalf("newer lane's lag after the old lane was forgotten = %v (exported %v), want 9", v, ok)
	}

	// Released with no newer lane: the series is gone.
	p.release([]*lane{newer}, 0, false)
	if _, ok := lagOf(); ok {
		t.Fatal("a released partition's lag series is still exported")
	}
}
