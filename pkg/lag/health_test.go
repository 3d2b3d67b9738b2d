package lag

import (
	"testing"
	"time"
)

// win builds a window from (committed, lag) pairs, one poll a second apart,
// every sample committed and with the given ownership.
func win(owned bool, pairs ...int64) []Sample {
	t0 := time.Unix(1_700_000_000, 0)
	var w []Sample
	for i := 0; i+1 < len(pairs); i += 2 {
		w = append(w, Sample{At: t0.Add(time.Duration(i/2) * time.Second), Committed: pairs[i], HasCommit: true, Lag: pairs[i+1], Owned: owned})
	}
	return w
}

func TestEvaluate(t *testing.T) {
	withErr := func(w []Sample, i int) []Sample { w[i].Err = true; return w }
	// empty marks samples from..to (inclusive) as taken while the group had
	// no members.
	empty := func(w []Sample, from, to int) []Sample {
		for i := from; i <= to; i++ {
			w[i].Empty = true
		}
		return w
	}
	timeLag := func(w []Sample, d time.Duration) []Sample { w[len(w)-1].TimeLag = d; return w }
	uncommitted := func(w []Sample) []Sample {
		for i := range w {
			w[i].HasCommit = false
		}
		return w
	}
	for _, tc := range []struct {
		name   string
		window []Sample
		size   int
		want   Status
	}{
		{"empty window", nil, 3, OK},
		{"caught up", win(true, 10, 0, 20, 0, 30, 0), 3, OK},
		{"newest lag zero after lagging", win(false, 10, 5, 10, 5, 10, 0), 3, OK},
		{"window not full yet, stopped", win(false, 10, 5, 10, 5), 3, OK},
		{"stopped with lag, no owner", win(false, 10, 5, 10, 7, 10, 9), 3, Stop},
		{"stopped with constant lag, no owner", win(false, 10, 5, 10, 5, 10, 5), 3, Stop},
		{"stuck while owned", win(true, 10, 5, 10, 7, 10, 9), 3, Stall},
		{"caught up inside the window, then stopped", win(false, 10, 0, 10, 5, 10, 9), 3, OK},
		{"falling behind while consuming", win(true, 10, 5, 20, 8, 30, 12), 3, Warn},
		{"lag flat while consuming", win(true, 10, 5, 20, 5, 30, 5), 3, OK},
		{"lag rising then falling", win(true, 10, 5, 20, 9, 30, 7), 3, OK},
		{"lag falling", win(true, 10, 9, 20, 6, 30, 3), 3, OK},
		{"rising but one dip", win(true, 10, 5, 20, 9, 30, 8, 40, 12), 4, OK},
		{"rising, consumer without owner (kadm commits)", win(false, 10, 5, 20, 8, 30, 12), 3, Warn},
		{"offset went back", win(true, 30, 0, 10, 20, 12, 18), 3, Rewind},
		{"offset went back, window not full", win(true, 30, 0, 10, 20), 5, Rewind},
		{"rewind left the window", win(true, 10, 20, 12, 18, 14, 16), 3, OK},
		{"rewind outranks stop", win(false, 30, 5, 10, 25, 10, 25), 3, Rewind},
		{"newest sample unreadable", withErr(win(true, 10, 0, 20, 0, 30, 0), 2), 3, Err},
		{"older sample unreadable", withErr(win(false, 10, 5, 10, 5, 10, 5), 0), 3, OK},
		{"err sample not compared for rewind", withErr(win(true, 30, 5, 0, 0, 31, 5), 1), 3, OK},
		{"never committed, nobody consuming", uncommitted(win(false, 0, 50, 0, 50, 0, 50)), 3, Stop},
		// Judged from what is known now (issue 17): a window of 10 would
		// otherwise take 9 intervals to say STOP.
		{"members left: STOP at the next poll", empty(win(true, 10, 5, 10, 7), 1, 1), 10, Stop},
		{"empty, no commit between two polls: STOP", empty(win(false, 10, 5, 10, 7), 0, 1), 10, Stop},
		{"empty, first poll: not judged yet", empty(win(false, 10, 5), 0, 0), 10, OK},
		{"empty but committing (no group membership)", empty(win(false, 10, 5, 20, 7, 20, 9), 0, 2), 10, OK},
		{"empty and caught up", empty(win(false, 10, 0, 10, 0), 0, 1), 10, OK},
		{"unowned but the group has members: trend only", win(false, 10, 5, 10, 7), 10, OK},
		{"time lag above the threshold: WARN at once", timeLag(win(true, 10, 5), 11*time.Second), 10, Warn},
		{"time lag at the threshold", timeLag(win(true, 10, 5), 10*time.Second), 10, OK},
		{"time lag high but STALL outranks WARN", timeLag(win(true, 10, 5, 10, 7, 10, 9), time.Minute), 3, Stall},
		{"time lag high, lag fell inside the window", timeLag(win(true, 10, 0, 20, 5, 30, 9), time.Minute), 3, Warn},
		{"commit deleted is not a rewind", append(win(false, 30, 0), Sample{Committed: 0, Lag: 30}), 3, OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Evaluate(tc.window, Rules{Window: tc.size, WarnTimeLag: 10 * time.Second}); got != tc.want {
				t.Errorf("Evaluate = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestHistoryWindow(t *testing.T) {
	h := newHistory(Rules{Window: 3})
	k := partKey{"g", "t", 0}
	var got []Status
	for _, s := range win(false, 10, 5, 10, 5, 10, 5, 20, 6, 30, 7) {
		got = append(got, h.add(k, s))
	}
	want := []Status{OK, OK, Stop, Warn, Warn}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	if n := len(h.windows[k]); n != 3 {
		t.Fatalf("window holds %d samples, want 3", n)
	}
	h.keep(map[partKey]bool{})
	if len(h.windows) != 0 {
		t.Fatal("keep(nothing) left windows behind")
	}
}

func TestWorstAndNames(t *testing.T) {
	if worst(Stall, Warn) != Stall || worst(OK, Err) != Err {
		t.Fatal("worst does not pick the more severe status")
	}
	for s, w := range map[Status]string{OK: "OK", Warn: "WARN", Rewind: "REWIND", Stall: "STALL", Stop: "STOP", Err: "ERR"} {
		if s.String() != w {
			t.Errorf("%d.String() = %s, want %s", s, s, w)
		}
	}
}
