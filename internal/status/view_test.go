package status

import (
	"math"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/pkg/metrics"
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
		{fmtMs(0.0042), "4.2 ms"}, {fmtMs(0.25), "250 ms"}, {fmtMs(12), "12.0 s"},
		{fmtSecs(3.25), "3.2 s"}, {fmtSecs(125), "2m5s"},
		{fmtBytes(512), "512 B"}, {fmtBytes(3 << 20), "3.0 MiB"}, {fmtBytes(1536), "1.5 KiB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
