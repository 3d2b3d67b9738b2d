// Package status serves veltrix's built-in status page (/ of process, demo
// and the lag exporter), read in-process from the same Prometheus registry
// that /metrics serves, for someone without Grafana: lag and time lag with
// their trends on top, input against processed rate, the last commit, the
// lag monitor's health, then per-partition lag worst first and the
// processor's own numbers. The page is self-contained (inline CSS and SVG,
// no external assets) and refreshes itself every two seconds.
package status

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/veltrix/veltrix/pkg/processor"
)

var _ http.Handler = (*Page)(nil)

// window is how far back rates and latencies look once the page has been
// open for a while.
const window = 10 * time.Second

//go:embed page.html
var pageHTML string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"rate":  fmtRate,
	"ms":    fmtMs,
	"bytes": fmtBytes,
	"num":   fmtNum,
	"secs":  fmtSecs,
	"lower": func(s string) string { return string(bytes.ToLower([]byte(s))) },
	"count": fmtCount,
	"clock": func(t time.Time) string { return t.Format("15:04:05") },
	"dur":   fmtDur,
	"nan":   math.IsNaN,
	"tone":  tone,
	// barWidth scales a partition's lag to at most 120 px against the group's.
	"barWidth": func(lag, total int64) int { return int(120 * float64(lag) / float64(total)) },
}).Parse(pageHTML))

// Page is the status page of one process. It is safe for concurrent use;
// each request gathers the registry once.
type Page struct {
	g     prometheus.Gatherer
	title string
	now   func() time.Time

	mu      sync.Mutex
	samples []*sample // the last window of gathers, oldest first, at least 1 s apart
	started time.Time // the first gather: trends and commits are known from here
	trends  map[groupKey]*trend
	pointAt time.Time // the newest trend point

	halts func() []processor.Halt // the processors' halted partitions, for their errors; nil: none
}

type groupKey struct{ cluster, group string }

// New returns the page for the series g gathers, titled title. Its trends
// fill as it is viewed; Run fills them in the background as well.
func New(g prometheus.Gatherer, title string) *Page {
	return &Page{g: g, title: title, now: time.Now, trends: map[groupKey]*trend{}}
}

// ShowHaltErrors has the page show, next to each halted partition, the
// handler's last error for it, from halts (Processor.Halted of the
// processors in this process, matched by topic and partition). The offset comes
// from the metrics either way; an error is too varied for a label.
func (p *Page) ShowHaltErrors(halts func() []processor.Halt) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.halts = halts
}

// Run gathers every two seconds until ctx ends, so the sparklines hold
// the last minutes before anyone opens the page. It returns nil when ctx
// ends.
func (p *Page) Run(ctx context.Context) error {
	t := time.NewTicker(trendStep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_, _ = p.View() // a failed gather leaves a gap in the trend
		}
	}
}

// Register serves the page on mux at / and /status.
func Register(mux *http.ServeMux, p *Page) {
	mux.Handle("GET /{$}", p)
	mux.Handle("GET /status", p)
}

// View gathers the registry and returns what the page shows. Rates and
// latencies cover the time since the oldest gather of the last 10 s that
// is at least 1 s old, or, before there is one, the whole uptime.
func (p *Page) View() (View, error) {
	mfs, err := p.g.Gather()
	if err != nil && len(mfs) == 0 {
		return View{}, fmt.Errorf("gathering metrics: %w", err)
	}
	now := p.now()
	cur := newSample(now, mfs)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started.IsZero() {
		p.started = now
	}
	keep := p.samples[:0]
	for _, s := range p.samples {
		if now.Sub(s.at) <= window {
			keep = append(keep, s)
		}
	}
	p.samples = keep
	var base *sample
	if len(p.samples) > 0 && now.Sub(p.samples[0].at) >= time.Second {
		base = p.samples[0]
	}
	if n := len(p.samples); n == 0 || now.Sub(p.samples[n-1].at) >= time.Second {
		p.samples = append(p.samples, cur)
	}
	v := build(p.title, cur, base)
	if p.halts != nil {
		// By topic and partition: with several input topics, partition 0
		// of one is not partition 0 of another.
		type tp struct {
			topic string
			part  int
		}
		errs := map[tp]string{}
		for _, h := range p.halts() {
			errs[tp{h.Topic, int(h.Partition)}] = h.Err
		}
		for i := range v.Groups {
			for j := range v.Groups[i].Partitions {
				if pt := &v.Groups[i].Partitions[j]; pt.Halted {
					pt.HaltErr = errs[tp{pt.Topic, pt.Partition}]
				}
			}
		}
	}
	p.record(cur, v.Groups)
	if w := worst(v.Groups); w >= 0 {
		g := v.Groups[w]
		v.Summary = summarize(v, g, len(v.Groups), p.trends[groupKey{g.Cluster, g.Name}], p.started)
	}
	return v, nil
}

// record adds a trend point per group, at most one per trendStep (with
// some slack for the ticker against page views), and forgets groups not
// seen for trendSpan. The caller holds p.mu.
func (p *Page) record(cur *sample, gs []Group) {
	if !p.pointAt.IsZero() && cur.at.Sub(p.pointAt) < trendStep*3/4 {
		// Still give a group seen for the first time its first point, so
		// the summary always has this gather's.
		for _, g := range gs {
			if p.trends[groupKey{g.Cluster, g.Name}] == nil {
				t := &trend{}
				t.add(pointOf(cur, g))
				p.trends[groupKey{g.Cluster, g.Name}] = t
			}
		}
		return
	}
	p.pointAt = cur.at
	for _, g := range gs {
		k := groupKey{g.Cluster, g.Name}
		if p.trends[k] == nil {
			p.trends[k] = &trend{}
		}
		p.trends[k].add(pointOf(cur, g))
	}
	for k, t := range p.trends {
		if last, ok := t.last(); ok && cur.at.Sub(last.at) > trendSpan {
			delete(p.trends, k)
		}
	}
}

// ServeHTTP renders the page; with ?partial=1 only the part the page's
// script swaps in on refresh.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v, err := p.View()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	name := "full"
	if r.URL.Query().Get("partial") != "" {
		name = "content"
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func fmtRate(v float64) string { return fmtNum(v) + "/s" }

// fmtNum prints a count compactly: 950, 12.3k, 4.56M.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 2, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case a >= 100 || a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// fmtMs prints seconds as milliseconds, or seconds from 10 s up.
func fmtMs(s float64) string {
	switch {
	case math.IsNaN(s):
		return "–"
	case s >= 10:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	case s >= 0.1:
		return strconv.FormatFloat(s*1e3, 'f', 0, 64) + " ms"
	default:
		return strconv.FormatFloat(s*1e3, 'f', 1, 64) + " ms"
	}
}

// fmtSecs prints a time lag.
func fmtSecs(s float64) string {
	switch {
	case math.IsNaN(s):
		return "–"
	case s < 60:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	default:
		return (time.Duration(s) * time.Second).String()
	}
}

// fmtCount prints a count in full with thousands separators: 84,700.
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// fmtDur prints a duration to the second: 45s, 2m5s, 1h0m0s.
func fmtDur(d time.Duration) string { return d.Round(time.Second).String() }

// tone is the colour class of a lag status: ok, warn or bad.
func tone(status string) string {
	switch status {
	case "OK":
		return "ok"
	case "WARN", "REWIND":
		return "warn"
	default:
		return "bad"
	}
}

// fmtBytes prints a size in binary units.
func fmtBytes(b float64) string {
	const unit = 1024
	if b < unit {
		return strconv.FormatFloat(b, 'f', 0, 64) + " B"
	}
	exp, div := 0, float64(unit)
	for n := b / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(b/div, 'f', 1, 64) + " " + string("KMGTP"[exp]) + "iB"
}
