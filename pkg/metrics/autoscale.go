package metrics

import "github.com/prometheus/client_golang/prometheus"

// Autoscale holds the autoscaling recommendation's descriptor (pkg/autoscale),
// exported by the lag exporter next to the lag series.
type Autoscale struct {
	Recommended *prometheus.Desc // cluster, group
}

// NewAutoscale returns the autoscaling descriptors.
func NewAutoscale() *Autoscale {
	return &Autoscale{
		Recommended: prometheus.NewDesc("veltrix_autoscale_recommended_replicas",
			"Members the group should run: enough to keep up with the input at autoscale.target_utilization of the measured per-member capacity and to drain the lag within autoscale.target_drain_time; at most the partitions, only counts that lower the partitions per member, lower counts after autoscale.scale_down_delay; held on errors and stale polls. Follow it with a HorizontalPodAutoscaler (AverageValue 1) or KEDA's Prometheus scaler (threshold 1).",
			[]string{"cluster", "group"}, nil),
	}
}

// Describe sends every autoscaling descriptor to ch.
func (a *Autoscale) Describe(ch chan<- *prometheus.Desc) { ch <- a.Recommended }
