package status

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestRingKeepsTheNewestOldestFirst(t *testing.T) {
	var r ring
	if _, ok := r.last(); ok || len(r.points()) != 0 {
		t.Fatal("an empty ring has points")
	}
	t0 := time.Unix(1000, 0)
	for i := range trendPoints + 5 {
		r.add(point{at: t0.Add(time.Duration(i) * time.Second), lag: float64(i)})
	}
	pts := r.points()
	if len(pts) != trendPoints {
		t.Fatalf("%d points, want %d", len(pts), trendPoints)
	}
	if pts[0].lag != 5 || pts[len(pts)-1].lag != float64(trendPoints+4) {
		t.Errorf("points from %v to %v, want the last %d oldest first", pts[0].lag, pts[len(pts)-1].lag, trendPoints)
	}
	if last, _ := r.last(); last.lag != float64(trendPoints+4) {
		t.Errorf("last = %v", last.lag)
	}
}

func TestRateOverLagPolls(t *testing.T) {
	t0 := time.Unix(1000, 0)
	// Gathers every 2 s, lag polls every 4 s: the end offsets only move at
	// a poll, so the rate divides by the polls' distance.
	var pts []point
	for i := range 10 {
		poll := t0.Add(time.Duration(i/2*4) * time.Second)
		pts = append(pts, point{at: t0.Add(time.Duration(i*2) * time.Second), pollAt: poll, end: float64(i / 2 * 400)})
	}
	if r := rate(pts, func(p point) float64 { return p.end }); math.Abs(r-100) > 1e-9 {
		t.Errorf("rate = %g, want 100/s", r)
	}
	if r := rate(pts[:2], func(p point) float64 { return p.end }); !math.IsNaN(r) {
		t.Errorf("rate from one poll = %g, want NaN", r)
	}
	s := pollRates(pts, func(p point) float64 { return p.end })
	if len(s.v) != 4 || s.v[0] != 100 {
		t.Errorf("poll rates %v, want 4 of 100/s", s.v)
	}
}

func TestSparkline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var s series
	for i, v := range []float64{0, math.NaN(), 50, 100} {
		s.add(t0.Add(time.Duration(i)*time.Second), v)
	}
	line := sparkline(s, t0, t0.Add(3*time.Second), top(s))
	// x spans 0..200 over the 3 s; y: 0 at the bottom (39), 100 at 10%
	// below the top; the NaN is a gap.
	if want := "0.0,39.0 133.3,21.7 200.0,4.5"; line != want {
		t.Errorf("sparkline %q, want %q", line, want)
	}
	if a := area(line); !strings.HasPrefix(a, "0.0,40 ") || !strings.HasSuffix(a, " 200.0,40") {
		t.Errorf("area %q", a)
	}
	var one series
	one.add(t0, 5)
	if sparkline(one, t0, t0.Add(time.Second), 5) != "" {
		t.Error("a sparkline of one point")
	}
}
