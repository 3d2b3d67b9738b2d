package metrics

import "github.com/prometheus/client_golang/prometheus"

// Offsets holds the metrics of veltrix offsets. A reset is a rare,
// deliberate act, so the counter's labels stay bounded: the group and topic
// an operator names, and one of six target words.
type Offsets struct {
	Resets *prometheus.CounterVec // group, topic, target
}

// NewOffsets creates the offsets metrics and registers them on reg.
func NewOffsets(reg prometheus.Registerer) *Offsets {
	o := &Offsets{
		Resets: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "offset_resets_total",
			Help: "Offset resets applied by veltrix offsets reset --execute, by target (to-earliest, to-latest, to-offset, to-datetime, shift-by, skip-halted)."},
			[]string{"group", "topic", "target"}),
	}
	reg.MustRegister(o.Resets)
	return o
}
