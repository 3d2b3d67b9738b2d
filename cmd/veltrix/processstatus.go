package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// processStatus is process's terminal view, like demo's: a line when this
// member's partitions change and a status line each second, read from the
// member's own metrics.
type processStatus struct {
	w        io.Writer
	owned    func() map[string][]int32 // the partitions owned now, by topic
	topics   bool                      // name each partition's topic: several input topics
	gather   prometheus.Gatherer       // this process's registry
	group    string                    // to pick this group's series
	last     []string                  // partitions at the previous tick, as ownedLabels
	lastDone float64                   // processed records at the previous tick
	lastAt   time.Time                 // the previous tick
	start    time.Time                 // when process started
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
	cur := ownedLabels(s.owned(), s.topics)
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

// ownedLabels lists owned partitions in topic, then partition order: as
// their numbers, or, with topics, as topic/partition — with several input
// topics a partition number alone does not say which partition it is.
func ownedLabels(owned map[string][]int32, topics bool) []string {
	var out []string
	for _, t := range slices.Sorted(maps.Keys(owned)) {
		ps := slices.Clone(owned[t])
		slices.Sort(ps)
		for _, p := range ps {
			l := strconv.Itoa(int(p))
			if topics {
				l = t + "/" + l
			}
			out = append(out, l)
		}
	}
	return out
}

// assignmentChange describes how the owned partitions, as ownedLabels,
// went from old to cur, or "" when they did not change.
func assignmentChange(old, cur []string) string {
	if slices.Equal(old, cur) {
		return ""
	}
	var added, removed []string
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
		parts = append(parts, "+"+strings.Join(added, ","))
	}
	if len(removed) > 0 {
		parts = append(parts, "-"+strings.Join(removed, ","))
	}
	owns := "none"
	if len(cur) > 0 {
		owns = strings.Join(cur, ",")
	}
	return fmt.Sprintf("assignment: %s; owns %s", strings.Join(parts, " "), owns)
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
