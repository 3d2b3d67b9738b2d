package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/veltrix/veltrix/internal/generate"
)

// progress shows a long produce run: a bar with rate and ETA on a
// terminal, a plain line every few seconds otherwise (logs, CI).
type progress struct {
	stop chan struct{}
	done chan struct{}
}

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// startProgress renders snap's counts to w until Stop. total is the
// expected record count, or 0 when unknown.
func startProgress(w io.Writer, total int64, snap func() generate.Result) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if isTerminal(w) {
			p.bar(w, total, snap)
		} else {
			p.lines(w, snap)
		}
	}()
	return p
}

func (p *progress) bar(w io.Writer, total int64, snap func() generate.Result) {
	max := total
	if max <= 0 {
		max = -1 // a spinner with counts and rate
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("producing"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			_ = bar.Set64(snap().Acked)
			_ = bar.Finish()
			return
		case <-t.C:
			_ = bar.Set64(snap().Acked)
		}
	}
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
