package lag

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// Collector exports a monitor's latest snapshot. It builds every series
// at scrape time, so groups and partitions gone from the latest poll
// vanish, and time lag is measured against the scrape time. Before the
// first poll it exports nothing.
type Collector struct {
	m *Monitor
	d *metrics.Lag
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns the collector of m's snapshots. New registers one
// when given a Registerer.
func NewCollector(m *Monitor) *Collector {
	return &Collector{m: m, d: metrics.NewLag()}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { c.d.Describe(ch) }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Latest()
	if s == nil {
		return
	}
	now := c.m.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	cl := s.Cluster
	gauge(c.d.PollSeconds, s.Took.Seconds(), cl)
	gauge(c.d.PollTimestamp, float64(s.At.UnixMilli())/1e3, cl)

	// Topic offsets once per partition, however many groups read it.
	type tp struct {
		topic     string
		partition int32
	}
	offsets := map[tp]Partition{}
	for _, g := range s.Groups {
		gauge(c.d.GroupStatus, float64(g.Status), cl, g.Name)
		gauge(c.d.Members, float64(len(g.Members)), cl, g.Name)
		for _, mem := range g.Members {
			gauge(c.d.MemberInfo, 1, cl, g.Name, mem.ID, mem.ClientID, mem.Host)
		}
		if g.Err != "" {
			continue
		}
		var sum, maxLag int64
		var maxSec float64
		for _, p := range g.Partitions {
			part := strconv.Itoa(int(p.Partition))
			gauge(c.d.PartitionStatus, float64(p.Status), cl, g.Name, p.Topic, part)
			if p.Err != "" {
				continue
			}
			offsets[tp{p.Topic, p.Partition}] = p
			gauge(c.d.Lag, float64(p.Lag), cl, g.Name, p.Topic, part)
			gauge(c.d.LostRecords, float64(p.Lost), cl, g.Name, p.Topic, part)
			if p.HasCommit {
				gauge(c.d.CurrentOffset, float64(p.Committed), cl, g.Name, p.Topic, part)
			}
			if p.TimeLagKnown {
				sec := p.TimeLag(now).Seconds()
				gauge(c.d.LagSeconds, sec, cl, g.Name, p.Topic, part)
				maxSec = max(maxSec, sec)
			}
			sum += p.Lag
			maxLag = max(maxLag, p.Lag)
		}
		gauge(c.d.SumLag, float64(sum), cl, g.Name)
		gauge(c.d.MaxLag, float64(maxLag), cl, g.Name)
		gauge(c.d.MaxLagSeconds, maxSec, cl, g.Name)
	}
	for k, p := range offsets {
		part := strconv.Itoa(int(k.partition))
		gauge(c.d.LatestOffset, float64(p.End), cl, k.topic, part)
		gauge(c.d.EarliestOffset, float64(p.Start), cl, k.topic, part)
		gauge(c.d.UnstableRecords, float64(p.Unstable), cl, k.topic, part)
	}
}
