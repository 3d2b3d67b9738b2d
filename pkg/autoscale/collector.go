package autoscale

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// Collector exports a recommender's recommendations for a lag monitor's
// groups. At each scrape it hands the monitor's latest snapshot to the
// recommender (a snapshot already seen changes nothing) and exports one
// series per group of it; before the first poll it exports nothing.
type Collector struct {
	m   *lag.Monitor
	r   *Recommender
	d   *metrics.Autoscale
	now func() time.Time
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns the collector of r's recommendations for m's groups.
func NewCollector(m *lag.Monitor, r *Recommender) *Collector {
	return &Collector{m: m, r: r, d: metrics.NewAutoscale(), now: time.Now}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { c.d.Describe(ch) }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Latest()
	if s == nil {
		return
	}
	c.r.Observe(s)
	now := c.now()
	for _, g := range s.Groups {
		if rec, ok := c.r.Recommend(g.Name, now); ok {
			ch <- prometheus.MustNewConstMetric(c.d.Recommended, prometheus.GaugeValue, float64(rec.Replicas), s.Cluster, g.Name)
		}
	}
}
