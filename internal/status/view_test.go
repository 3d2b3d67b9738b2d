package status

import (
	"context"
	"maps"
	"math"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
)

// lagSeries exports fixed lag monitor series under the real names, for a
// group "billing" with two partitions of "events".
type lagSeries struct{ d *metrics.Lag }

func (l lagSeries) Describe(ch chan<- *prometheus.Desc) { l.d.Describe(ch) }

func (l lagSeries) Collect(ch chan<- prometheus.Metric) {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	g(l.d.GroupStatus, 1, "prod", "billing")
	g(l.d.Members, 2, "prod", "billing")
	g(l.d.SumLag, 1234+7, "prod", "billing")
	g(l.d.MaxLagSeconds, 3.5, "prod", "billing")
	g(l.d.Lag, 1234, "prod", "billing", "events", "0")
	g(l.d.Lag, 7, "prod", "billing", "events", "1")
	g(l.d.LagSeconds, 3.5, "prod", "billing", "events", "0")
	g(l.d.CurrentOffset, 100, "prod", "billing", "events", "0")
	g(l.d.PartitionStatus, 1, "prod", "billing", "events", "0")
	g(l.d.LatestOffset, 1334, "prod", "events", "0")
	g(l.d.LatestOffset, 507, "prod", "events", "1")
}

// fixture is a registry with veltrix's metrics and a clock the test moves.
type fixture struct {
	m    *metrics.Metrics
	page *Page
	now  time.Time
}

func newFixture(withLag bool) *fixture {
	reg := metrics.NewRegistry()
	f := &fixture{m: metrics.New(reg), now: time.Now()}
	f.m.RegisterReady(func() bool { return true })
	if withLag {
		reg.MustRegister(lagSeries{metrics.NewLag()})
	}
	f.page = New(reg, "test")
	f.page.now = func() time.Time { return f.now }
	return f
}

func TestRatesOverWindow(t *testing.T) {
	f := newFixture(false)
	f.m.Processed.WithLabelValues("events").Add(1000)
	v, err := f.page.View()
	if err != nil {
		t.Fatal(err)
	}
	if !v.SinceUp {
		t.Error("the first view should average since start")
	}
	for i := 0; i < 2; i++ {
		f.now = f.now.Add(time.Second)
		f.m.Processed.WithLabelValues("events").Add(100)
		f.m.Failed.WithLabelValues("events", "dlq").Add(3)
		f.m.Failed.WithLabelValues("events", "skip").Add(1)
		obs := f.m.E2ESeconds.Observer("events")
		for range 10 {
			obs.Observe(0.003) // bucket (0.002, 0.004]
		}
		obs.Observe(3) // bucket (2.048, 4.096]
		obs.Flush()
	}
	v, err = f.page.View()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"window", v.Window, 2},
		{"processed/s", v.Processed, 100},
		{"failed/s", v.Failed, 4},
		{"dead-lettered/s", v.DeadLettered, 3},
		// 22 observations: the median is in (0.002, 0.004], interpolated at
		// rank 11 of the 20 in it.
		{"e2e p50", v.E2EP50, 0.002 + 0.002*11/20},
		// rank 21.78 falls in (2.048, 4.096]: 2 observations, 20 below.
		{"e2e p99", v.E2EP99, 2.048 + 2.048*(21.78-20)/2},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
	if v.Ready != "ready" {
		t.Errorf("ready = %q", v.Ready)
	}
}

func TestQuantileEmpty(t *testing.T) {
	f := newFixture(false)
	v, err := f.page.View()
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(v.E2EP99) || !math.IsNaN(v.BatchMean) {
		t.Errorf("p99 %g, batch mean %g with nothing handled, want NaN (shown as –)", v.E2EP99, v.BatchMean)
	}
}

func TestPageShowsLagPerPartition(t *testing.T) {
	f := newFixture(true)
	rec := httptest.NewRecorder()
	f.page.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(body, "<!doctype html>") {
		t.Fatalf("status %d, body %.200s", rec.Code, body)
	}
	for _, want := range []string{
		`id="lag" data-group="billing"`,
		`data-topic="events" data-partition="0"`,
		`data-lag="1234"`, `data-lag="7"`,
		`3.5 s`,         // time lag of partition 0
		`<td>1334</td>`, // log end of partition 0
		`pill warn`,     // group and partition status 1
		`2 members · lag 1241`,
		`setInterval(`, // the refresh
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The partial has the content without the page around it.
	rec = httptest.NewRecorder()
	f.page.ServeHTTP(rec, httptest.NewRequest("GET", "/?partial=1", nil))
	if p := rec.Body.String(); strings.Contains(p, "<html") || !strings.Contains(p, `data-lag="1234"`) {
		t.Errorf("partial: %.300s", p)
	}
}

func TestPageFallsBackToFetchLag(t *testing.T) {
	f := newFixture(false)
	f.m.PartitionLag.WithLabelValues("g", "events", "2").Set(42)
	rec := httptest.NewRecorder()
	f.page.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	if !regexp.MustCompile(`data-partition="2"[^\n]*data-lag="42"`).MatchString(rec.Body.String()) {
		t.Errorf("no fetch-lag row for partition 2:\n%s", rec.Body.String())
	}
	f2 := newFixture(false)
	rec = httptest.NewRecorder()
	f2.page.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	if !strings.Contains(rec.Body.String(), "No lag yet") {
		t.Error("a page without lag series should say so")
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtNum(950), "950"}, {fmtNum(12345), "12.3k"}, {fmtNum(4.56e6), "4.56M"}, {fmtNum(2.25), "2.2"}, {fmtNum(math.NaN()), "–"},
		{fmtRate(1500), "1500/s"},
		{fmtCount(84700), "84,700"}, {fmtCount(999), "999"}, {fmtCount(-1234567), "-1,234,567"},
		{fmtDur(2*time.Minute + 5400*time.Millisecond), "2m5s"},
		{fmtMs(0.0042), "4.2 ms"}, {fmtMs(0.25), "250 ms"}, {fmtMs(12), "12.0 s"},
		{fmtSecs(3.25), "3.2 s"}, {fmtSecs(125), "2m5s"},
		{fmtBytes(512), "512 B"}, {fmtBytes(3 << 20), "3.0 MiB"}, {fmtBytes(1536), "1.5 KiB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// liveLag exports lag monitor series the test changes between views: a
// group on "events" partitions 0 and 1, as of the poll at poll.
type liveLag struct {
	d       *metrics.Lag
	group   string
	mu      sync.Mutex
	status  float64
	members float64
	poll    time.Time
	end     [2]int64
	pos     [2]int64 // committed offsets
	seconds float64  // time lag of partition 0
}

func newLiveLag(group string) *liveLag { return &liveLag{d: metrics.NewLag(), group: group} }

func (l *liveLag) Describe(ch chan<- *prometheus.Desc) { l.d.Describe(ch) }

func (l *liveLag) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var sum int64
	for p := range 2 {
		part := strconv.Itoa(p)
		lag := l.end[p] - l.pos[p]
		sum += lag
		g(l.d.Lag, float64(lag), "prod", l.group, "events", part)
		g(l.d.CurrentOffset, float64(l.pos[p]), "prod", l.group, "events", part)
		g(l.d.PartitionStatus, l.status, "prod", l.group, "events", part)
		g(l.d.LatestOffset, float64(l.end[p]), "prod", "events", part)
	}
	g(l.d.LagSeconds, l.seconds, "prod", l.group, "events", "0")
	g(l.d.GroupStatus, l.status, "prod", l.group)
	g(l.d.Members, l.members, "prod", l.group)
	g(l.d.SumLag, float64(sum), "prod", l.group)
	g(l.d.MaxLagSeconds, l.seconds, "prod", l.group)
	g(l.d.PollTimestamp, float64(l.poll.UnixNano())/1e9, "prod")
}

// step moves the clock and the lag monitor on by one trend step: 200
// records/s arrive on each partition and consumed of them are committed.
func (l *liveLag) step(f *fixture, consumed int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f.now = f.now.Add(trendStep)
	l.poll = f.now.Add(-100 * time.Millisecond)
	for p := range 2 {
		l.end[p] += 400
		l.pos[p] += consumed
	}
	l.seconds += 2
}

func view(t *testing.T, p *Page) View {
	t.Helper()
	v, err := p.View()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func body(t *testing.T, p *Page) string {
	t.Helper()
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// TestSummaryOfAFallingBehindProcessor: 400 records/s arrive, the
// processor in this process handles 200/s and commits until it stops
// committing; the top tiles show the rates, rising trends and the time of
// the last commit.
func TestSummaryOfAFallingBehindProcessor(t *testing.T) {
	f := newFixture(false)
	live := newLiveLag("billing")
	live.status, live.members = 1, 1
	f.page.g.(*prometheus.Registry).MustRegister(live)
	processed, commits := f.m.Processed.WithLabelValues("events"), f.m.Commits.WithLabelValues("billing")
	var lastCommit time.Time
	for i := range 12 {
		live.step(f, 200)
		processed.Add(400)
		if i < 8 {
			commits.Inc()
			lastCommit = f.now
		}
		view(t, f.page)
	}
	v := view(t, f.page)
	s := v.Summary
	if s == nil {
		t.Fatal("no summary")
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"input/s", s.Input, 400},
		{"processed/s", s.Processed, 200},
		{"lag", float64(s.Lag), 2 * 12 * 200},
		{"time lag", s.LagSeconds, 24},
		{"commit age", s.CommitAge.Seconds(), 8},
	} {
		if math.Abs(c.got-c.want) > 1e-6 {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
	if s.Status != "WARN" || s.ProcessedBy != "processed" || !s.LastCommit.Equal(lastCommit) || s.Members != 1 {
		t.Errorf("status %s, processed by %s, last commit %v (want %v), members %d", s.Status, s.ProcessedBy, s.LastCommit, lastCommit, s.Members)
	}
	// 12 points, one per step (the last view, at the same time as the
	// step's, adds none), from low on the left to the top (y 4.5) on the
	// right.
	lag := strings.Fields(s.LagLine)
	if len(lag) != 12 || !strings.HasPrefix(lag[0], "0.0,") || lag[len(lag)-1] != "200.0,4.5" {
		t.Errorf("lag sparkline %q: want 12 points rising to the top right", s.LagLine)
	}
	if s.InputLine == "" || s.ProcessedLine == "" || s.TimeLine == "" {
		t.Errorf("missing sparklines: input %q processed %q time %q", s.InputLine, s.ProcessedLine, s.TimeLine)
	}
	page := body(t, f.page)
	for _, want := range []string{
		`id="group-status" data-status="WARN"`,
		`class="tile warn" id="tile-lag" data-lag="4800"`,
		`data-input="400.0" data-processed="200.0" data-processed-by="processed"`,
		`id="spark-lag"`, `id="spark-timelag"`, `id="spark-rates"`,
		`id="e2e"`, // a processor runs here
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="produced"`) {
		t.Error("a Produced tile on a page whose process produced nothing")
	}
}

// TestLagExporterPage: without a processor in the process (veltrix lag),
// the processed rate is the growth of the committed offsets, the last
// commit the poll at which they last moved, and no processor tile shows.
func TestLagExporterPage(t *testing.T) {
	reg := metrics.NewRegistry()
	metrics.New(reg) // as veltrix lag does, for its client's metrics: no processor series
	live := newLiveLag("billing")
	reg.MustRegister(live)
	f := &fixture{now: time.Unix(1e6, 0)}
	f.page = New(reg, "lag")
	f.page.now = func() time.Time { return f.now }
	for range 5 {
		live.step(f, 100)
		view(t, f.page)
	}
	moved := live.poll
	live.status, live.members = 4, 0
	for range 6 {
		live.step(f, 0)
		view(t, f.page)
	}
	s := view(t, f.page).Summary
	if s.ProcessedBy != "committed" || s.Processed != 0 || !s.LastCommit.Equal(moved) || s.Status != "STOP" {
		t.Errorf("processed by %s at %g/s, last commit %v (want %v), status %s", s.ProcessedBy, s.Processed, s.LastCommit, moved, s.Status)
	}
	page := body(t, f.page)
	for _, absent := range []string{`id="e2e"`, `id="assigned"`, `id="produced"`, `id="ready"`, `pill halted`, `pill paused`} {
		if strings.Contains(page, absent) {
			t.Errorf("the lag exporter's page has %q", absent)
		}
	}
	for _, want := range []string{`class="tile bad" id="tile-lag"`, `data-status="STOP"`, `0 members`, `data-processed-by="committed"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestProducedTileOnlyOnceProducing(t *testing.T) {
	f := newFixture(true)
	f.m.ProducerCounters("events") // a producer at start: 0 so far
	if strings.Contains(body(t, f.page), `id="produced"`) {
		t.Error("a Produced tile before anything was produced")
	}
	f.m.Produced.WithLabelValues("events").Add(10)
	if !strings.Contains(body(t, f.page), `id="produced"`) {
		t.Error("no Produced tile after producing")
	}
}

func TestHaltedAndPausedInColour(t *testing.T) {
	f := newFixture(true)
	f.m.Assigned.WithLabelValues("billing", "events").Set(2)
	page := body(t, f.page)
	if strings.Contains(page, "pill halted") || strings.Contains(page, "pill paused") {
		t.Error("halted or paused pills with none halted or paused")
	}
	f.m.Halted.WithLabelValues("billing", "events").Set(1)
	f.m.Paused.WithLabelValues("billing").Set(2)
	page = body(t, f.page)
	for _, want := range []string{
		`<span class="pill halted" data-halted="1">halted 1</span>`, // the group's row
		`<span class="pill paused" data-paused="2">paused 2</span>`,
		`<span class="pill halted">halted 1</span>`, // the partitions tile
		`<span class="pill paused">paused 2</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestPartitionsWorstFirst(t *testing.T) {
	ps := []Partition{
		{Topic: "a", Partition: 0, Lag: 900, Status: "OK", LagSeconds: 1},
		{Topic: "a", Partition: 1, Lag: 5, Status: "STALL", LagSeconds: math.NaN()},
		{Topic: "a", Partition: 2, Lag: 10, Status: "STALL", LagSeconds: 3},
		{Topic: "a", Partition: 3, Lag: 10, Status: "STALL", LagSeconds: 9},
		{Topic: "a", Partition: 4, Lag: 1, Status: "WARN", LagSeconds: 1},
	}
	slices.SortFunc(ps, worstFirst)
	var got []int
	for _, p := range ps {
		got = append(got, p.Partition)
	}
	if want := []int{3, 2, 1, 4, 0}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	gs := []Group{{Name: "a", Status: "OK", SumLag: 1e6}, {Name: "b", Status: "STOP", SumLag: 3}, {Name: "c", Status: "STOP", SumLag: 9}}
	if w := worst(gs); w != 2 {
		t.Errorf("worst group %d, want 2 (c: STOP with the most lag)", w)
	}
}

// TestRunSamplesInBackground: the trends fill while nobody views the
// page, one point per trendStep.
func TestRunSamplesInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(lagSeries{metrics.NewLag()})
		p := New(reg, "test")
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		time.Sleep(10*trendStep + time.Millisecond)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if n := p.trends[groupKey{"prod", "billing"}].n; n != 10 {
			t.Errorf("%d trend points after 10 steps, want 10", n)
		}
	})
}

// TestPageSelfContained: the page loads nothing but itself (no scripts,
// styles, fonts or images from elsewhere), so it works offline and behind
// any proxy.
func TestPageSelfContained(t *testing.T) {
	f := newFixture(true)
	f.m.Produced.WithLabelValues("events").Add(1)
	page := body(t, f.page)
	for _, re := range []string{`<script[^>]+src=`, `<link\b`, `<img\b`, `url\(`, `@import`, `src="http`, `href="http`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("the page loads an external asset: %q", m)
		}
	}
}

// TestHaltedPartitionShowsOffsetAndError: a partition halted here is shown
// first, with the record it halted on (from veltrix_halted_partition_offset)
// and the handler's error (from the processors' Halted).
func TestHaltedPartitionShowsOffsetAndError(t *testing.T) {
	f := newFixture(true)
	f.m.Assigned.WithLabelValues("billing", "events").Set(2)
	f.m.Halted.WithLabelValues("billing", "events").Set(1)
	f.m.HaltedOffset.WithLabelValues("billing", "events", "1").Set(7)
	f.page.ShowHaltErrors(func() []processor.Halt {
		return []processor.Halt{{Topic: "events", Partition: 1, Offset: 7, Attempts: 3, Err: "value is not JSON"}}
	})
	v, err := f.page.View()
	if err != nil {
		t.Fatal(err)
	}
	ps := v.Groups[0].Partitions
	if len(ps) < 2 || ps[0].Partition != 1 || !ps[0].Halted || ps[0].HaltedAt != 7 || ps[0].HaltErr != "value is not JSON" || ps[1].Halted {
		t.Fatalf("partitions %+v, want partition 1 first, halted at 7 with its error", ps)
	}
	page := body(t, f.page)
	for _, want := range []string{`data-halted-at="7"`, "HALTED at offset 7", `<div class="halt-err">value is not JSON</div>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHaltErrorsByTopic: with several input topics, a halted partition
// shows its own topic's error, not that of the same partition number of
// another topic.
func TestHaltErrorsByTopic(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.New(reg)
	reg.MustRegister(twoTopicLag{metrics.NewLag()})
	page := New(reg, "test")
	m.Assigned.WithLabelValues("billing", "orders").Set(1)
	m.Assigned.WithLabelValues("billing", "payments").Set(1)
	m.Halted.WithLabelValues("billing", "orders").Set(1)
	m.Halted.WithLabelValues("billing", "payments").Set(1)
	m.HaltedOffset.WithLabelValues("billing", "orders", "0").Set(3)
	m.HaltedOffset.WithLabelValues("billing", "payments", "0").Set(9)
	page.ShowHaltErrors(func() []processor.Halt {
		return []processor.Halt{{Topic: "orders", Partition: 0, Offset: 3, Err: "bad order"},
			{Topic: "payments", Partition: 0, Offset: 9, Err: "bad payment"}}
	})
	v, err := page.View()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range v.Groups[0].Partitions {
		if p.Halted {
			got[p.Topic+"/"+strconv.Itoa(p.Partition)] = p.HaltErr
		}
	}
	if want := map[string]string{"orders/0": "bad order", "payments/0": "bad payment"}; !maps.Equal(got, want) {
		t.Fatalf("halt errors %v, want %v", got, want)
	}
}

// twoTopicLag exports lag monitor series for group "billing" reading
// partition 0 of "orders" and of "payments".
type twoTopicLag struct{ d *metrics.Lag }

func (l twoTopicLag) Describe(ch chan<- *prometheus.Desc) { l.d.Describe(ch) }

func (l twoTopicLag) Collect(ch chan<- prometheus.Metric) {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	g(l.d.GroupStatus, 0, "prod", "billing")
	for _, topic := range []string{"orders", "payments"} {
		g(l.d.Lag, 5, "prod", "billing", topic, "0")
		g(l.d.CurrentOffset, 3, "prod", "billing", topic, "0")
		g(l.d.LatestOffset, 8, "prod", topic, "0")
	}
}
