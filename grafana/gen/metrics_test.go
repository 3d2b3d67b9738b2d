package gen

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// targetLabels are added by Prometheus, not the exporter: job and instance
// to every series, cluster by prometheus/prometheus.yml to series without
// one.
var targetLabels = []string{"job", "instance", "cluster"}

// recorder is a Registerer that remembers what is registered through it.
type recorder struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`(?:constLabels|variableLabels): \{([^}]*)\}`)
	constLabel = regexp.MustCompile(`(\w+)=`)
	varLabel   = regexp.MustCompile(`(?:c\()?(\w+)\)?`)
)

// exported builds every collector veltrix registers — its own metrics, the
// readiness gauge, the lag monitor's collector, franz-go's kprom metrics
// for a client, and the Go and process collectors — on a real registry and
// returns each series name a query can use with its labels (histograms as
// _bucket, _sum and _count).
func exported(t *testing.T) map[string][]string {
	t.Helper()
	reg := metrics.NewRegistry()
	rec := &recorder{Registerer: reg}
	m := metrics.New(rec)
	m.RegisterReady(func() bool { return true })
	// kprom registers its metrics when the client is created; no broker
	// is contacted, and the lag monitor exports nothing before its first
	// poll, but its descriptors are all there.
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.ClientID("metrics-test"), m.ClientHooks())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := lag.New(cl, lag.DefaultConfig(), lag.Options{Registerer: rec}); err != nil {
		t.Fatal(err)
	}

	out := map[string][]string{}
	add := func(name, kind string, labels []string) {
		switch kind {
		case "histogram":
			out[name+"_bucket"] = append(slices.Clone(labels), "le")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		case "summary":
			out[name] = append(slices.Clone(labels), "quantile")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		default:
			out[name] = labels
		}
	}
	// Collectors registered through veltrix's code: names and labels from
	// their descriptors, kinds from their Go types.
	for _, c := range rec.collectors {
		kind := "gauge"
		switch c.(type) {
		case *prometheus.HistogramVec, prometheus.Histogram, *metrics.BatchHistogramVec:
			kind = "histogram"
		case *prometheus.SummaryVec: // a prometheus.Summary has the method set of a Histogram: it matches above
			kind = "summary"
		}
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			s := d.String()
			var labels []string
			for _, ls := range descLabels.FindAllStringSubmatch(s, -1) {
				re := varLabel
				if ls[0][0] == 'c' && ls[0][1] == 'o' {
					re = constLabel
				}
				for _, l := range re.FindAllStringSubmatch(ls[1], -1) {
					labels = append(labels, l[1])
				}
			}
			add(descName.FindStringSubmatch(s)[1], kind, labels)
		}
	}
	// The Go and process collectors always have series: gather them.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if _, ok := out[mf.GetName()]; ok {
			continue
		}
		var labels []string
		if len(mf.Metric) > 0 {
			for _, lp := range mf.Metric[0].Label {
				labels = append(labels, lp.GetName())
			}
		}
		kind := map[dto.MetricType]string{dto.MetricType_HISTOGRAM: "histogram", dto.MetricType_SUMMARY: "summary"}[mf.GetType()]
		add(mf.GetName(), kind, labels)
	}
	return out
}

// TestQueriesUseExportedMetrics fails when a dashboard panel, a dashboard
// variable or an alert rule reads a metric veltrix does not export, or
// matches on a label that metric does not have.
func TestQueriesUseExportedMetrics(t *testing.T) {
	known := exported(t)
	for _, must := range []string{"veltrix_processed_records_total", "kafka_consumergroup_group_lag", "kafka_client_read_bytes_total",
		"veltrix_handler_duration_seconds_bucket", "process_resident_memory_bytes", "veltrix_ready"} {
		if _, ok := known[must]; !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			t.Fatalf("the registry lacks %s: the catalogue is broken; it has %v", must, names)
		}
	}

	type source struct{ where, expr string }
	var exprs []source
	for file, raw := range loadBoards(t) {
		qs, err := Queries(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			exprs = append(exprs, source{file + ": " + q.Panel + " " + q.RefID, q.Expr})
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	raw, err := os.ReadFile("../../prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, source{"alerts.yml: " + r.Alert, r.Expr})
		}
	}

	used := map[string]bool{}
	for _, e := range exprs {
		refs := Refs(e.expr)
		for _, r := range refs {
			used[r.Metric] = true
			labels, ok := known[r.Metric]
			if !ok {
				t.Errorf("%s: %s is not a metric veltrix exports", e.where, r.Metric)
				continue
			}
			for _, l := range r.Labels {
				if !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) {
					t.Errorf("%s: %s has no label %q (it has %v)", e.where, r.Metric, l, labels)
				}
			}
		}
	}
	t.Logf("%d queries and rules read %d distinct metrics", len(exprs), len(used))
}
