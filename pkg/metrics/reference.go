package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Reference renders the metrics reference (docs/metrics.md) from the
// definitions in this package: what New, RegisterReady, RegisterLive and NewLag declare,
// read back through the collectors themselves, so a metric added, renamed
// or relabelled here changes the reference, and its freshness test fails
// until it is regenerated.
func Reference() string {
	var b strings.Builder
	b.WriteString(`# Metrics reference

Generated from the definitions in pkg/metrics by ` + "`go test ./pkg/metrics -update`" + `; do not edit.

Every series comes from a registry veltrix creates and passes in; nothing registers globally.
Names use base units and ` + "`_total`" + ` for counters; labels are bounded (topic, partition,
group and outcome words, never record keys). A histogram exports ` + "`_bucket`" + ` (with ` + "`le`" + `),
` + "`_sum`" + ` and ` + "`_count`" + `. Next to these, every endpoint exports franz-go's client metrics as
` + "`kafka_client_*`" + ` (kprom, labelled by ` + "`client_id`" + `) and the Go runtime and process
collectors (` + "`go_*`" + `, ` + "`process_*`" + `).
`)
	section := func(title, intro string, defs []definition) {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n| name | type | labels | description |\n|---|---|---|---|\n", title, intro)
		for _, d := range defs {
			labels := "—"
			if len(d.labels) > 0 {
				labels = "`" + strings.Join(d.labels, "`, `") + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.name, d.kind, labels, strings.ReplaceAll(d.help, "|", `\|`))
		}
	}
	section("Pipeline", "Exported by `veltrix process`, `produce` and `demo` on `metrics.addr`. Counters and "+
		"gauges with a known label value set exist at 0 from the first scrape; per-partition series appear "+
		"with their partition.", pipelineDefinitions())
	section("Lag monitor", "Exported by `veltrix lag --serve`, and by `veltrix process` and `demo` for their own group. "+
		"Built at each scrape from the latest poll (none before the first one), so a deleted group's series vanish; "+
		"an unknown value has no series rather than a marker value. Names follow kafka_exporter and "+
		"kafka-lag-exporter. Details: [lag.md](lag.md).", lagDefinitions())
	section("Autoscaling", "Exported by `veltrix lag --serve` for every group it watches, from the same polls. "+
		"Details: [deployment.md](deployment.md#autoscaling).", describe(NewAutoscale(), "gauge"))
	section("Offsets", "Counted by `veltrix offsets reset --execute` and written, added to what the file already counts, "+
		"to `--metrics-file` for node_exporter's textfile collector. Details: [operations.md](operations.md).", offsetsDefinitions())
	return b.String()
}

// definition is one metric as the reference shows it.
type definition struct {
	name, kind, help string
	labels           []string
}

// recorder is a Registerer that keeps what is registered through it, in
// order, without registering anything.
type recorder struct{ collectors []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// pipelineDefinitions are the metrics of New, RegisterReady and RegisterLive, in the
// order they are registered.
func pipelineDefinitions() []definition {
	rec := &recorder{}
	m := New(rec)
	m.RegisterReady(func() bool { return false })
	m.RegisterLive(func() bool { return false })
	var defs []definition
	for _, c := range rec.collectors {
		kind := "gauge"
		switch c.(type) {
		case *prometheus.CounterVec, prometheus.Counter:
			kind = "counter"
		case *prometheus.HistogramVec, *BatchHistogramVec:
			kind = "histogram"
		}
		defs = append(defs, describe(c, kind)...)
	}
	return defs
}

// offsetsDefinitions are the metrics of NewOffsets.
func offsetsDefinitions() []definition {
	rec := &recorder{}
	NewOffsets(rec)
	var defs []definition
	for _, c := range rec.collectors {
		defs = append(defs, describe(c, "counter")...)
	}
	return defs
}

// lagDefinitions are the lag monitor's descriptors; pkg/lag exports each
// as a gauge.
func lagDefinitions() []definition { return describe(NewLag(), "gauge") }

// describer is what describe needs of a collector; Lag has only this.
type describer interface{ Describe(chan<- *prometheus.Desc) }

// describe reads name, help and labels of each of c's descriptors by
// gathering one sample of it: a Desc keeps them unexported.
func describe(c describer, kind string) []definition {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	var defs []definition
	for d := range ch {
		reg := prometheus.NewRegistry()
		reg.MustRegister(sample{d, kind})
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 1 || len(mfs[0].Metric) != 1 {
			panic(fmt.Sprintf("metrics: reading %s back: %v", d, err))
		}
		mf := mfs[0]
		// The sample's label values are their positions: sorting by them
		// restores the declared order, which Gather sorts by name.
		pairs := slices.Clone(mf.Metric[0].Label)
		slices.SortFunc(pairs, func(a, b *dto.LabelPair) int {
			x, _ := strconv.Atoi(a.GetValue())
			y, _ := strconv.Atoi(b.GetValue())
			return x - y
		})
		def := definition{name: mf.GetName(), kind: kind, help: mf.GetHelp()}
		for _, p := range pairs {
			def.labels = append(def.labels, p.GetName())
		}
		defs = append(defs, def)
	}
	return defs
}

// sample is a collector of one series of one descriptor, with label values
// "0", "1", ... in declared order.
type sample struct {
	d    *prometheus.Desc
	kind string
}

func (s sample) Describe(ch chan<- *prometheus.Desc) { ch <- s.d }

func (s sample) Collect(ch chan<- prometheus.Metric) {
	// A descriptor does not tell its label count: try until one fits.
	for n := 0; n <= 16; n++ {
		values := make([]string, n)
		for i := range values {
			values[i] = strconv.Itoa(i)
		}
		var m prometheus.Metric
		var err error
		switch s.kind {
		case "counter":
			m, err = prometheus.NewConstMetric(s.d, prometheus.CounterValue, 0, values...)
		case "histogram":
			m, err = prometheus.NewConstHistogram(s.d, 0, 0, nil, values...)
		default:
			m, err = prometheus.NewConstMetric(s.d, prometheus.GaugeValue, 0, values...)
		}
		if err == nil {
			ch <- m
			return
		}
	}
}
