package status

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The trends behind the top tiles' sparklines: one point per group at most
// every trendStep, the last trendSpan of them, read from the same gathers
// as the page (no extra queries). Page.Run samples in the background so a
// page opened during an incident already shows how it began.
const (
	trendSpan   = 5 * time.Minute
	trendStep   = 2 * time.Second
	trendPoints = int(trendSpan / trendStep)
	// rateSpan is how far back the input and committed rates reach: at least
	// two lag polls, and more when polls are frequent, so one poll landing
	// mid-batch does not swing the rate; as long as the processor's window,
	// so a stopped group reads 0 as soon as its processed rate does.
	rateSpan = window
)

// point is one group's state at one gather.
type point struct {
	at         time.Time
	pollAt     time.Time // the lag poll the offsets come from
	lag        float64   // sum of the partitions' offset lag
	lagSeconds float64   // largest time lag; NaN when unknown
	end        float64   // sum of the partitions' log end offsets
	committed  float64   // sum of the committed offsets
	processed  float64   // veltrix_processed_records_total of the group's topics; NaN without a processor here
	commits    float64   // veltrix_commits_total of the group; NaN without a processor here
}

// ring holds the last trendPoints points. The zero ring is empty.
type ring struct {
	buf  []point
	next int // where the next point goes
	n    int
}

func (r *ring) add(p point) {
	if r.buf == nil {
		r.buf = make([]point, trendPoints)
	}
	r.buf[r.next] = p
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
}

// points returns a copy of the points, oldest first.
func (r *ring) points() []point {
	out := make([]point, 0, r.n)
	for i := range r.n {
		out = append(out, r.buf[(r.next-r.n+i+len(r.buf))%len(r.buf)])
	}
	return out
}

func (r *ring) last() (point, bool) {
	if r.n == 0 {
		return point{}, false
	}
	return r.buf[(r.next-1+len(r.buf))%len(r.buf)], true
}

// trend is one group's history on this page.
type trend struct {
	ring
	// lastCommit is when the group last committed: the gather at which the
	// processor's commit counter grew or, without a processor here, the
	// lag poll at which the committed offsets moved. Zero until seen.
	lastCommit time.Time
}

// add appends p, noting a commit when p shows one since the last point.
func (t *trend) add(p point) {
	if prev, ok := t.last(); ok {
		switch {
		case !math.IsNaN(p.commits) && !math.IsNaN(prev.commits):
			if p.commits > prev.commits {
				t.lastCommit = p.at
			}
		case p.committed != prev.committed:
			t.lastCommit = p.pollAt
		}
	}
	t.ring.add(p)
}

// rate is the growth per second of f between the newest lag poll and the
// oldest poll within rateSpan of it (or the one just before it, when polls
// are further apart); NaN before two polls.
func rate(pts []point, f func(point) float64) float64 {
	if len(pts) == 0 {
		return math.NaN()
	}
	newest := pts[len(pts)-1]
	var base *point
	for i := len(pts) - 2; i >= 0; i-- {
		p := &pts[i]
		if !p.pollAt.Before(newest.pollAt) {
			continue
		}
		if base != nil && newest.pollAt.Sub(p.pollAt) > rateSpan {
			break
		}
		base = p
	}
	if base == nil {
		return math.NaN()
	}
	return max(f(newest)-f(*base), 0) / newest.pollAt.Sub(base.pollAt).Seconds()
}

// series is a sparkline's data: values at times; NaN values are gaps.
type series struct {
	at []time.Time
	v  []float64
}

func (s *series) add(at time.Time, v float64) {
	s.at = append(s.at, at)
	s.v = append(s.v, v)
}

// pollRates is the growth per second of f from each lag poll to the next.
func pollRates(pts []point, f func(point) float64) series {
	var s series
	var prev *point
	for i := range pts {
		p := &pts[i]
		if prev != nil && !p.pollAt.After(prev.pollAt) {
			continue
		}
		if prev != nil {
			s.add(p.pollAt, max(f(*p)-f(*prev), 0)/p.pollAt.Sub(prev.pollAt).Seconds())
		}
		prev = p
	}
	return s
}

// gatherRates is the growth per second of f from each point to the next.
func gatherRates(pts []point, f func(point) float64) series {
	var s series
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		if d := b.at.Sub(a.at).Seconds(); d > 0 {
			s.add(b.at, max(f(b)-f(a), 0)/d)
		}
	}
	return s
}

// Sparkline sizes, in SVG user units; the SVG stretches to its tile.
const (
	sparkW = 200
	sparkH = 40
)

// sparkline returns an SVG polyline's points attribute drawing s between
// from and to (left and right) and 0 and top (bottom and top), or "" with
// fewer than two points. NaN values are left out.
func sparkline(s series, from, to time.Time, top float64) string {
	span := to.Sub(from).Seconds()
	if span <= 0 || top <= 0 || math.IsNaN(top) {
		top = 1
	}
	var b strings.Builder
	n := 0
	for i, v := range s.v {
		if math.IsNaN(v) || s.at[i].Before(from) {
			continue
		}
		x := sparkW * s.at[i].Sub(from).Seconds() / max(span, 1e-9)
		// 10% headroom: a steady value draws below the top edge, not on it.
		y := sparkH - (sparkH-2)*min(v/(top*1.1), 1) - 1
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(y, 'f', 1, 64))
		n++
	}
	if n < 2 {
		return ""
	}
	return b.String()
}

// area closes a sparkline's points along the bottom, for a filled shape.
func area(line string) string {
	if line == "" {
		return ""
	}
	first, _, _ := strings.Cut(line, ",")
	last := line[strings.LastIndexByte(line, ' ')+1:]
	lastX, _, _ := strings.Cut(last, ",")
	return first + "," + strconv.Itoa(sparkH) + " " + line + " " + lastX + "," + strconv.Itoa(sparkH)
}

// top is the largest non-NaN value of the series, for a shared scale.
func top(ss ...series) float64 {
	m := 0.0
	for _, s := range ss {
		for _, v := range s.v {
			if !math.IsNaN(v) {
				m = max(m, v)
			}
		}
	}
	return m
}
