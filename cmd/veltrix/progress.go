package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/veltrix/veltrix/internal/generate"
)

// progress shows a long produce run: on a terminal a bar with rate and ETA
// — counted in events for --count, in time for --duration — and otherwise
// a plain line every few seconds (logs, CI).
type progress struct {
	stop chan struct{}
	done chan struct{}
}

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	if g, ok := w.(*lineGuard); ok {
		w = g.w
	}
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// startProgress renders snap's counts to w until Stop. total is the
// expected record count, or 0 when unknown; then a known duration makes
// the bar a clock. w should be a lineGuard when anything else writes to
// the same terminal meanwhile.
func startProgress(w io.Writer, total int64, duration time.Duration, snap func() generate.Result) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if isTerminal(w) {
			p.bar(w, total, duration, snap)
		} else {
			p.lines(w, snap)
		}
	}()
	return p
}

func (p *progress) bar(w io.Writer, total int64, duration time.Duration, snap func() generate.Result) {
	timed := total <= 0 && duration > 0
	max := total
	switch {
	case timed:
		max = duration.Milliseconds()
	case max <= 0:
		max = -1 // a spinner with counts and rate
	}
	out := w
	if g, ok := w.(*lineGuard); ok {
		out = g.Bar()
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription("producing"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
	}
	if !timed {
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"))
	}
	bar := progressbar.NewOptions64(max, opts...)
	start := time.Now()
	var last generate.Result
	lastAt := start
	update := func() {
		r := snap()
		if timed {
			now := time.Now()
			bar.Describe(timedDescription(r, last, now.Sub(lastAt)))
			if now.Sub(lastAt) >= time.Second {
				last, lastAt = r, now
			}
			_ = bar.Set64(min(time.Since(start).Milliseconds(), max))
			return
		}
		_ = bar.Set64(r.Acked)
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			update()
			_ = bar.Finish()
			return
		case <-t.C:
			update()
		}
	}
}

// timedDescription labels a time-based bar with what the time cannot
// show: the events acknowledged and the current rate.
func timedDescription(r, prev generate.Result, over time.Duration) string {
	rate := 0.0
	if over > 0 {
		rate = float64(r.Acked-prev.Acked) / over.Seconds()
	}
	s := fmt.Sprintf("producing: %d acked, %.0f events/s", r.Acked, rate)
	if r.Failed > 0 {
		s += fmt.Sprintf(", %d failed", r.Failed)
	}
	return s
}

func (p *progress) lines(w io.Writer, snap func() generate.Result) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			r := snap()
			fmt.Fprintf(w, "produced %d, acked %d, failed %d (%.0f events/s)\n", r.Produced, r.Acked, r.Failed, float64(r.Acked-last)/5)
			last = r.Acked
		}
	}
}

// Stop ends the rendering and waits for it.
func (p *progress) Stop() {
	close(p.stop)
	<-p.done
}

// lineGuard shares a terminal between a bar that redraws its line in
// place and everything else: a write that is not the bar's ends the bar's
// line first, so "shutting down" after Ctrl-C (and the ^C the terminal
// echoes) starts on a line of its own instead of being glued to the bar.
type lineGuard struct {
	mu   sync.Mutex
	w    io.Writer
	open bool // the bar has drawn on the current line
}

// newLineGuard guards w.
func newLineGuard(w io.Writer) *lineGuard { return &lineGuard{w: w} }

// Write writes p on a line of its own when the bar holds the current one.
func (g *lineGuard) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		g.open = false
		if _, err := io.WriteString(g.w, "\n"); err != nil {
			return 0, err
		}
	}
	return g.w.Write(p)
}

// Bar is the writer the bar draws through.
func (g *lineGuard) Bar() io.Writer { return barWriter{g} }

type barWriter struct{ g *lineGuard }

func (b barWriter) Write(p []byte) (int, error) {
	b.g.mu.Lock()
	defer b.g.mu.Unlock()
	n, err := b.g.w.Write(p)
	// A frame that ends its line, or clears it (Finish), leaves nothing
	// open.
	b.g.open = len(p) > 0 && p[len(p)-1] != '\n' && strings.Trim(string(p), "\r \x1b[K") != ""
	return n, err
}
