package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// processStatus is process's terminal view, like demo's: a line when this
// member's partitions change and a status line each second, read from the
// member's own metrics.
type processStatus struct {
	w        io.Writer
	assigned func() []int32      // the partitions owned now
	gather   prometheus.Gatherer // this process's registry
	group    string              // to pick this group's series
	last     []int32             // partitions at the previous tick
	lastDone float64             // processed records at the previous tick
	lastAt   time.Time           // the previous tick
	start    time.Time           // when process started
}

// run prints until ctx is cancelled.
func (s *processStatus) run(ctx context.Context) {
	s.start, s.lastAt = time.Now(), time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.tick(now)
		}
	}
}

// tick prints what changed since the previous one.
func (s *processStatus) tick(now time.Time) {
	cur := s.assigned()
	slices.Sort(cur)
	if line := assignmentChange(s.last, cur); line != "" {
		fmt.Fprintln(s.w, line)
	}
	s.last = cur
	m := sums(s.gather, s.group)
	rate := 0.0
	if d := now.Sub(s.lastAt).Seconds(); d > 0 {
		rate = (m["veltrix_processed_records_total"] - s.lastDone) / d
	}
	s.lastDone, s.lastAt = m["veltrix_processed_records_total"], now
	fmt.Fprintln(s.w, statusLine(now.Sub(s.start), rate, int64(m["veltrix_partition_lag_records"]),
		int64(m["veltrix_failed_records_total"]), len(cur)))
}

// statusLine is process's once-a-second line, laid out like demo's.
func statusLine(elapsed time.Duration, rate float64, lag, failed int64, partitions int) string {
	return fmt.Sprintf("%6s  processed %7.0f/s  lag %7d  failed %d  partitions %d",
		elapsed.Round(time.Second), rate, lag, failed, partitions)
}

// assignmentChange describes how the owned partitions went from old to
// cur (both sorted), or "" when they did not change.
func assignmentChange(old, cur []int32) string {
	if slices.Equal(old, cur) {
		return ""
	}
	var added, removed []int32
	for _, p := range cur {
		if !slices.Contains(old, p) {
			added = append(added, p)
		}
	}
	for _, p := range old {
		if !slices.Contains(cur, p) {
			removed = append(removed, p)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "+"+ints(added))
	}
	if len(removed) > 0 {
		parts = append(parts, "-"+ints(removed))
	}
	owns := "none"
	if len(cur) > 0 {
		owns = ints(cur)
	}
	return fmt.Sprintf("assignment: %s; owns %s", strings.Join(parts, " "), owns)
}

func ints(ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}

// sums adds up each veltrix_* metric's series, keeping only this group's
// where a series has a group label.
func sums(g prometheus.Gatherer, group string) map[string]float64 {
	out := map[string]float64{}
	mfs, err := g.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "veltrix_") {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "group" && l.GetValue() != group {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				out[mf.GetName()] += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[mf.GetName()] += m.GetGauge().GetValue()
			}
		}
	}
	return out
}
