package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/tooltest"
	"github.com/veltrix/veltrix/pkg/embedded"
)

var update = flag.Bool("update", false, "TestStatusPageStates: write the screenshots to docs/status/")

// The colours of the page's statuses (--ok, --warn, --bad in page.html):
// every pill, tile edge and sparkline of a status is drawn in one of them.
var tones = map[string][3]uint8{"ok": {0x1a, 0x7f, 0x37}, "warn": {0xb7, 0x79, 0x1f}, "bad": {0xc6, 0x28, 0x28}}

// statusState is one state of the pipeline the test drives and what its
// status page must show.
type statusState struct {
	name   string
	status string // the group badge: the lag monitor's health
	tone   string // the page's status colour: ok, warn or bad
	// ready says when the page shows the state (the lag monitor judges
	// from a window of polls, the rates from the last ones); check says
	// what else the DOM must hold.
	ready, check func(p *statusDOM) error
}

// TestStatusPageStates drives a real pipeline on the embedded cluster
// through three states and checks each one's status page in headless
// Chromium: healthy (a quick simulate handler keeps up with 400 events/s),
// lagging (a slow one falls behind, so lag grows) and stopped (the
// processor is gone and its lag stays, seen on the lag exporter's page).
// Each state's page is saved once and both the DOM dump and the
// screenshot are taken of that copy, so they show the same moment; the
// page needs nothing but itself. With -update the screenshots go to
// docs/status/, which README links.
func TestStatusPageStates(t *testing.T) {
	chrome := tooltest.Need(t, "chromium")
	if !*update {
		// The committed screenshots README links are there and whole.
		for _, name := range []string{"healthy", "lagging", "stopped"} {
			f, err := os.Open(filepath.Join(tooltest.Root(t), "docs", "status", name+".png"))
			if err != nil {
				t.Fatalf("%v (run with -update to make it)", err)
			}
			cfg, err := png.DecodeConfig(f)
			_ = f.Close()
			if err != nil || cfg.Width != 1200 || cfg.Height != 900 {
				t.Errorf("docs/status/%s.png: %dx%d, %v; want a 1200x900 PNG", name, cfg.Width, cfg.Height, err)
			}
		}
	}
	bin := veltrixBinary(t)
	cl, err := embedded.Start(embedded.Options{Topics: []string{"events"}, Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	brokers := strings.Join(cl.Addrs(), ",")
	lagFlags := []string{"--lag.interval", "500ms", "--lag.window", "4"}
	pageURL := regexp.MustCompile(`status page at (http://\S+/)`)

	// The lag exporter watches the group from the start, so its page has
	// the whole story when the processor is gone.
	exporter := start(t, "lag", bin, append([]string{"lag", "--brokers", brokers, "--group", "^billing$",
		"--serve", "127.0.0.1:0"}, lagFlags...)...)
	exporterURL := await(t, exporter, pageURL, 30*time.Second)
	start(t, "produce", bin, "produce", "--brokers", brokers, "--topic", "events", "--rate", "400", "--metrics-addr", "")

	process := func(name, recordDelay string) (*child.Process, string) {
		p := start(t, name, bin, append([]string{"process", "--brokers", brokers, "--topic", "events", "--group", "billing",
			"--handler", "simulate", "--handler.simulate.record_delay", recordDelay,
			// Small batches committed often: the committed offsets move
			// at every lag poll, so a slow handler reads as WARN (falling
			// behind), not STALL (stuck).
			"--processor.batch.max_records", "20", "--processor.commit.interval", "200ms",
			"--metrics-addr", "127.0.0.1:0"}, lagFlags...)...)
		return p, await(t, p, pageURL, 30*time.Second)
	}

	dir := t.TempDir()
	shoot := func(url string, st statusState) {
		t.Helper()
		var last string
		var page []byte
		waitFor(t, "the "+st.name+" state on "+url, 90*time.Second, func() error {
			b, err := get(url)
			if err != nil {
				return err
			}
			p := parseStatus(b)
			if err := cmpErr(p.attr("group-status", "data-status"), st.status, "group badge"); err != nil {
				return err
			}
			if err := st.ready(p); err != nil {
				if s := err.Error(); s != last {
					t.Logf("%s: not yet: %s", st.name, s)
					last = s
				}
				return err
			}
			page = b
			return nil
		})
		file := filepath.Join(dir, st.name+".html")
		if err := os.WriteFile(file, page, 0o644); err != nil {
			t.Fatal(err)
		}
		dom := parseStatus(chromium(t, chrome, "file://"+file, "--dump-dom"))
		for _, err := range []error{
			cmpErr(dom.attr("group-status", "data-status"), st.status, "group badge"),
			cmpErr(dom.classTone("tile-lag"), st.tone, "lag tile colour"),
			cmpErr(dom.classTone("tile-timelag"), st.tone, "time lag tile colour"),
			dom.topTiles(),
			dom.worstFirst(st.status),
			st.check(dom),
		} {
			if err != nil {
				t.Errorf("%s: %v", st.name, err)
			}
		}
		if dom.has("produced") {
			t.Errorf("%s: a Produced tile on a page whose process produces nothing", st.name)
		}
		shot := filepath.Join(dir, st.name+".png")
		chromium(t, chrome, "file://"+file, "--screenshot="+shot)
		raw, err := os.ReadFile(shot)
		if err != nil {
			t.Fatalf("%s: no screenshot: %v", st.name, err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: screenshot is not a PNG: %v", st.name, err)
		}
		if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 900 {
			t.Errorf("%s: screenshot is %dx%d, want 1200x900", st.name, b.Dx(), b.Dy())
		}
		// The state's colour is on screen and the others are not (but for
		// the green "ready" pill of a running processor's page).
		counts := toneCounts(img)
		for tone, n := range counts {
			switch {
			case tone == st.tone && n < 500:
				t.Errorf("%s: only %d pixels of %s on the screenshot", st.name, n, tone)
			case tone != st.tone && n > 0 && (tone != "ok" || !dom.has("ready")):
				t.Errorf("%s: %d pixels of %s on the screenshot, want none", st.name, n, tone)
			}
		}
		t.Logf("%s: %s lag %s, time lag %s s, input %s/s, %s %s/s, last commit %s s ago; screenshot %d bytes, status colours %v",
			st.name, dom.attr("group-status", "data-status"), dom.attr("tile-lag", "data-lag"), dom.attr("tile-timelag", "data-seconds"),
			dom.attr("tile-rates", "data-input"), dom.attr("tile-rates", "data-processed-by"), dom.attr("tile-rates", "data-processed"),
			dom.attr("tile-commit", "data-age"), len(raw), counts)
		if *update {
			out := filepath.Join(tooltest.Root(t), "docs", "status", st.name+".png")
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(out, raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Healthy: a quick handler keeps up; lag stays at what a commit
	// interval holds.
	healthy, healthyURL := process("process-healthy", "200us")
	joined := time.Now() // about when the exporter first sees the group
	shoot(healthyURL, statusState{name: "healthy", status: "OK", tone: "ok",
		ready: func(p *statusDOM) error {
			in, proc := p.float("tile-rates", "data-input"), p.float("tile-rates", "data-processed")
			switch {
			case p.lagPoints() < 8:
				return fmt.Errorf("lag trend has %d points, want 8", p.lagPoints())
			case in < 300 || proc < 0.8*in:
				return fmt.Errorf("input %.0f/s, processed %.0f/s", in, proc)
			case !p.allRows("OK"):
				return fmt.Errorf("partitions %v", p.rowStatuses())
			}
			return nil
		},
		check: func(p *statusDOM) error {
			if s := p.float("tile-timelag", "data-seconds"); s > 5 {
				return fmt.Errorf("time lag %.1f s while keeping up", s)
			}
			if p.attr("tile-rates", "data-processed-by") != "processed" {
				return fmt.Errorf("the process page's rate is %q, want the processor's own", p.attr("tile-rates", "data-processed-by"))
			}
			return p.committedWithin(3)
		}})
	if _, err := healthy.Term(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Lagging: 20 ms a record is 50 records/s a partition, 200/s in all,
	// against 400/s coming in.
	slow, lagURL := process("process-slow", "20ms")
	shoot(lagURL, statusState{name: "lagging", status: "WARN", tone: "warn",
		ready: func(p *statusDOM) error {
			in, proc := p.float("tile-rates", "data-input"), p.float("tile-rates", "data-processed")
			switch {
			case p.lagPoints() < 8:
				return fmt.Errorf("lag trend has %d points, want 8", p.lagPoints())
			case !p.rising("spark-lag") || !p.rising("spark-timelag"):
				return fmt.Errorf("lag and time lag trends not rising")
			case proc <= 0 || proc > 0.75*in:
				return fmt.Errorf("input %.0f/s, processed %.0f/s", in, proc)
			}
			return nil
		},
		check: func(p *statusDOM) error {
			if s := p.float("tile-timelag", "data-seconds"); s < 2 {
				return fmt.Errorf("time lag %.1f s while falling behind", s)
			}
			return p.committedWithin(3)
		}})
	// Stopped: the processor leaves the group with its lag behind and
	// input still arriving; its own page is gone, the exporter's shows it.
	if _, err := slow.Term(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	shoot(exporterURL, statusState{name: "stopped", status: "STOP", tone: "bad",
		ready: func(p *statusDOM) error {
			in, proc := p.float("tile-rates", "data-input"), p.float("tile-rates", "data-processed")
			switch {
			case in < 300 || proc != 0:
				return fmt.Errorf("input %.0f/s, committed %.0f/s", in, proc)
			case !p.allRows("STOP"):
				return fmt.Errorf("partitions %v", p.rowStatuses())
			}
			return nil
		},
		check: func(p *statusDOM) error {
			if p.has("e2e") || p.has("handler") || p.has("assigned") {
				return fmt.Errorf("processor tiles on the lag exporter's page")
			}
			if p.attr("tile-rates", "data-processed-by") != "committed" {
				return fmt.Errorf("the exporter's rate is %q, want committed", p.attr("tile-rates", "data-processed-by"))
			}
			if age := p.float("tile-commit", "data-age"); !(age >= 1) {
				return fmt.Errorf("last commit %v s ago, want the time the processor stopped", age)
			}
			// A point every trendStep (2 s) since the group appeared: the
			// whole run, less a point for the join, one for the ticker's
			// phase and one of slack; never fewer than the two states
			// before it waited for on the processors' own pages.
			want := max(int(time.Since(joined)/(2*time.Second))-3, 12)
			if p.lagPoints() < want {
				return fmt.Errorf("the exporter's lag trend has %d points, want the whole run since the group appeared (%d)", p.lagPoints(), want)
			}
			return nil
		}})
}

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func cmpErr(got, want, what string) error {
	if got != want {
		return fmt.Errorf("%s %q, want %q", what, got, want)
	}
	return nil
}

// statusDOM is a status page's HTML (as served, or as Chromium's DOM dump)
// read through the ids and data attributes the page keeps for checks.
type statusDOM struct{ html string }

func parseStatus(b []byte) *statusDOM { return &statusDOM{string(b)} }

// tag returns the opening tag of the element with id, or "".
func (p *statusDOM) tag(id string) string {
	return regexp.MustCompile(`<[a-z]+\b[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(p.html)
}

func (p *statusDOM) has(id string) bool { return p.tag(id) != "" }

// attr is the attribute name of the element with id.
func (p *statusDOM) attr(id, name string) string {
	m := regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(p.tag(id))
	if m == nil {
		return ""
	}
	return m[1]
}

// float is a numeric attribute; NaN when absent.
func (p *statusDOM) float(id, name string) float64 {
	v, err := strconv.ParseFloat(p.attr(id, name), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// classTone is the status colour class (ok, warn, bad) of the element.
func (p *statusDOM) classTone(id string) string {
	for _, c := range strings.Fields(p.attr(id, "class")) {
		if _, ok := tones[c]; ok {
			return c
		}
	}
	return ""
}

// line returns the (x, y) points of the sparkline's main polyline.
func (p *statusDOM) line(id string) [][2]float64 {
	i := strings.Index(p.html, `id="`+id+`"`)
	if i < 0 {
		return nil
	}
	m := regexp.MustCompile(`<polyline class="line" points="([^"]*)"`).FindStringSubmatch(p.html[i:])
	if m == nil {
		return nil
	}
	var out [][2]float64
	for _, xy := range strings.Fields(m[1]) {
		x, y, _ := strings.Cut(xy, ",")
		fx, _ := strconv.ParseFloat(x, 64)
		fy, _ := strconv.ParseFloat(y, 64)
		out = append(out, [2]float64{fx, fy})
	}
	return out
}

// lagPoints is the number of points of the lag sparkline.
func (p *statusDOM) lagPoints() int { return len(p.line("spark-lag")) }

// rising says the sparkline ends higher than it starts (SVG y grows down).
func (p *statusDOM) rising(id string) bool {
	l := p.line(id)
	return len(l) >= 2 && l[len(l)-1][1] < l[0][1]-5
}

var rowRE = regexp.MustCompile(`<tr class="row-[a-z]+" data-topic="[^"]*" data-partition="(\d+)" data-lag="(\d+)" data-status="([A-Z]+)"`)

func (p *statusDOM) rowStatuses() []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(p.html, -1) {
		out = append(out, m[1]+":"+m[3])
	}
	return out
}

func (p *statusDOM) allRows(status string) bool {
	rows := rowRE.FindAllStringSubmatch(p.html, -1)
	return len(rows) == 4 && !slices.ContainsFunc(rows, func(m []string) bool { return m[3] != status })
}

// worstFirst checks the partition table: four rows, none worse than the
// group, sorted by status then lag, worst first.
func (p *statusDOM) worstFirst(group string) error {
	order := []string{"OK", "WARN", "REWIND", "STALL", "STOP", "ERR"}
	rows := rowRE.FindAllStringSubmatch(p.html, -1)
	if len(rows) != 4 {
		return fmt.Errorf("%d partition rows, want 4", len(rows))
	}
	for i, m := range rows {
		if slices.Index(order, m[3]) > slices.Index(order, group) {
			return fmt.Errorf("partition %s is %s, worse than its group's %s", m[1], m[3], group)
		}
		if i == 0 {
			continue
		}
		prev := rows[i-1]
		ps, s := slices.Index(order, prev[3]), slices.Index(order, m[3])
		pl, _ := strconv.ParseInt(prev[2], 10, 64)
		l, _ := strconv.ParseInt(m[2], 10, 64)
		if s > ps || (s == ps && l > pl) {
			return fmt.Errorf("partition rows not worst first: %v", p.rowStatuses())
		}
	}
	return nil
}

// topTiles checks that the four top tiles are there, lag and time lag
// first, each trend drawn.
func (p *statusDOM) topTiles() error {
	var pos []int
	for _, id := range []string{"tile-lag", "tile-timelag", "tile-rates", "tile-commit"} {
		i := strings.Index(p.html, `id="`+id+`"`)
		if i < 0 {
			return fmt.Errorf("no %s", id)
		}
		pos = append(pos, i)
	}
	if !slices.IsSorted(pos) || strings.Index(p.html, `id="memory"`) < pos[3] {
		return fmt.Errorf("lag and time lag are not the first tiles")
	}
	for _, id := range []string{"spark-lag", "spark-timelag", "spark-rates"} {
		if !p.has(id) {
			return fmt.Errorf("no %s sparkline", id)
		}
	}
	return nil
}

func (p *statusDOM) committedWithin(secs float64) error {
	if age := p.float("tile-commit", "data-age"); !(age <= secs) {
		return fmt.Errorf("last commit %v s ago, want within %v s", age, secs)
	}
	return nil
}

// toneCounts counts the pixels of img in each status colour.
func toneCounts(img image.Image) map[string]int {
	out := map[string]int{}
	for tone := range tones {
		out[tone] = 0
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for tone, c := range tones {
				if near(r>>8, c[0]) && near(g>>8, c[1]) && near(bl>>8, c[2]) {
					out[tone]++
				}
			}
		}
	}
	return out
}

func near(a uint32, b uint8) bool { return a+2 >= uint32(b) && a <= uint32(b)+2 }
