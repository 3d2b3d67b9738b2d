// Package autoscale recommends how many members a consumer group should
// run, from the lag monitor's polls: enough to keep up with the input at a
// target utilization of each member's measured capacity, and to drain the
// current lag within a target time; never more than the partitions, and
// only counts that lower the most partitions any member owns (6 partitions:
// 1, 2, 3 or 6, never 4 or 5); lower counts only after they have been
// wanted for a delay. A stuck partition (STALL) is alerted, not scaled for:
// more members do not unstick it. On unreadable offsets, an empty group or
// stale polls it holds its last recommendation.
//
// The lag exporter (veltrix lag --serve) exports the recommendation as
// veltrix_autoscale_recommended_replicas{cluster,group}, which a
// HorizontalPodAutoscaler (through prometheus-adapter) or KEDA's Prometheus
// scaler follows; veltrix scale prints it with its reasoning.
package autoscale
