package lag

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestFreshAndPolling: the lag exporter's readiness turns false once its
// newest snapshot is older than max(3 × interval, 30s), naming the age and
// the last poll's error, and its liveness turns false once no poll has
// finished for twice that. Before this, /readyz said ready forever after
// the first successful poll, however long the cluster had been unreadable.
func TestFreshAndPolling(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	now := t0
	m := &Monitor{cfg: Config{Interval: 5 * time.Second}, now: func() time.Time { return now }}

	if err := m.Fresh(); err == nil || !strings.Contains(err.Error(), "no poll of the cluster has succeeded yet") {
		t.Fatalf("before any poll: Fresh() = %v", err)
	}
	m.lastPoll.Store(pollResult{at: now, err: errors.New("dial tcp: connection refused")})
	if err := m.Fresh(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("after a failed first poll: Fresh() = %v, want the poll's error", err)
	}

	m.latest.Store(&Snapshot{At: t0})
	m.lastPoll.Store(pollResult{at: t0})
	now = t0.Add(30 * time.Second) // 3 × 5s is 15s, but never less than 30s
	if err := m.Fresh(); err != nil {
		t.Fatalf("30s after a successful poll: Fresh() = %v, want nil", err)
	}
	now = t0.Add(31 * time.Second)
	m.lastPoll.Store(pollResult{at: now, err: errors.New("i/o timeout")})
	err := m.Fresh()
	if err == nil || !strings.Contains(err.Error(), "31s old") || !strings.Contains(err.Error(), "i/o timeout") {
		t.Fatalf("31s after the last success, polls failing: Fresh() = %v, want the age and the error", err)
	}
	if err := m.Polling(t0); err != nil {
		t.Fatalf("polls still finishing (failing): Polling() = %v, want nil", err)
	}

	m.cfg.Interval = 30 * time.Second // stale after 90s, wedged after 180s
	now = t0.Add(31*time.Second + 180*time.Second)
	if err := m.Polling(t0); err != nil {
		t.Fatalf("180s after the last finished poll: Polling() = %v, want nil", err)
	}
	now = now.Add(time.Second)
	if err := m.Polling(t0); err == nil || !strings.Contains(err.Error(), "no lag poll has finished for 3m1s") {
		t.Fatalf("181s after the last finished poll: Polling() = %v", err)
	}
}
