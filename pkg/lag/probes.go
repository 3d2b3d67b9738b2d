package lag

import (
	"errors"
	"fmt"
	"time"
)

// pollResult is what the newest finished poll left behind, for the probes.
type pollResult struct {
	at  time.Time
	err error // nil: it published a snapshot
}

// staleAfter is how old the newest snapshot may be before the monitor stops
// calling itself ready: three intervals, and never less than three poll
// timeouts, so one slow or failed poll does not flap the probe.
func (m *Monitor) staleAfter() time.Duration {
	return max(3*m.cfg.Interval, 3*minPollTimeout)
}

// Fresh returns nil while the newest snapshot is recent enough to serve:
// a poll succeeded within max(3 × interval, 30s). Otherwise it says how
// old the data is and why the polls since have failed. A lag exporter
// that can no longer read the cluster keeps serving its last snapshot, so
// its readiness must not say OK: dashboards and the autoscaler would act
// on numbers that are no longer true.
func (m *Monitor) Fresh() error {
	last, _ := m.lastPoll.Load().(pollResult)
	s := m.latest.Load()
	if s == nil {
		if last.err != nil {
			return fmt.Errorf("no poll of the cluster has succeeded yet; the last one failed: %w", last.err)
		}
		return errors.New("no poll of the cluster has succeeded yet")
	}
	age := m.now().Sub(s.At)
	if age <= m.staleAfter() {
		return nil
	}
	why := "no poll has finished since"
	if last.err != nil {
		why = "the last poll failed: " + last.err.Error()
	}
	return fmt.Errorf("the lag data is %s old (the newest successful poll; stale after %s); %s",
		age.Round(time.Second), m.staleAfter(), why)
}

// Polling returns nil unless no poll has finished, successfully or not, for
// twice the stale age: each poll is bounded by a timeout, so a monitor whose
// loop stopped finishing polls is wedged and only a restart helps. It is
// the lag exporter's liveness. Before the first poll finishes it counts
// from start.
func (m *Monitor) Polling(start time.Time) error {
	last, _ := m.lastPoll.Load().(pollResult)
	since := start
	if !last.at.IsZero() {
		since = last.at
	}
	if d := m.now().Sub(since); d > 2*m.staleAfter() {
		return fmt.Errorf("no lag poll has finished for %s", d.Round(time.Second))
	}
	return nil
}
