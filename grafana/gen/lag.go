package gen

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/statushistory"
)

// Several exporters may report the same group: the standalone lag exporter
// and every processor of the group (each monitors its own group). The
// queries therefore take the max over exporters first (the values agree up
// to a poll), then aggregate, so nothing is counted twice.

// partLag is the offset lag per group, topic and partition, deduplicated.
const partLag = `max by (cluster, group, topic, partition) (kafka_consumergroup_group_lag{` + lagSel + `})`

// partSeconds is the time lag per partition, deduplicated.
const partSeconds = `max by (cluster, group, topic, partition) (kafka_consumergroup_group_lag_seconds{` + lagSel + `})`

// consumeRate is the records per second a group commits past, per topic,
// from the committed offsets' growth.
const consumeRate = `sum by (cluster, group, topic) (max by (cluster, group, topic, partition) (rate(kafka_consumergroup_current_offset{` + lagSel + `}[$__rate_interval])))`

// statusMappings names the lag monitor's status codes (pkg/lag: 0 OK to
// 5 ERR) and colours them.
func statusMappings() []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, s := range []struct{ text, color string }{
		{"OK", "green"}, {"WARN", "yellow"}, {"REWIND", "orange"},
		{"STALL", "red"}, {"STOP", "dark-red"}, {"ERR", "purple"},
	} {
		opts[string(rune('0'+i))] = dashboard.ValueMappingResult{
			Text: cog.ToPtr(s.text), Color: cog.ToPtr(s.color), Index: cog.ToPtr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// Lag is the consumer lag view of every group the lag monitor watches.
func Lag() *dashboard.DashboardBuilder {
	b := board("veltrix / Consumer lag", LagUID,
		"Offset lag, time lag and health of every consumer group, from veltrix's lag monitor (veltrix lag --serve, and each veltrix process for its own group).")
	variables(b,
		`label_values(kafka_consumergroup_group_lag, cluster)`,
		`label_values(kafka_consumergroup_group_lag{cluster=~"$cluster"}, group)`,
		`label_values(kafka_consumergroup_group_lag{cluster=~"$cluster", group=~"$group"}, topic)`)

	b.WithRow(dashboard.NewRowBuilder("Health"))
	b.WithPanel(statPanel("Group status", "Health of each group, the worst of its partitions: OK, WARN (lag rising while committing), REWIND (offset went back), STALL (owned, offset not moving, lag > 0), STOP (nobody consuming, lag > 0), ERR (offsets unreadable).", "none", 8, 5,
		steps("green", 1, "yellow", 2, "orange", 3, "red", 5, "purple"),
		instant(`max by (cluster, group) (kafka_consumergroup_group_status{`+groupSel+`})`, "{{group}}")).
		Mappings(statusMappings()).GraphMode(common.BigValueGraphModeNone).TextMode(common.BigValueTextModeValueAndName))
	b.WithPanel(statPanel("Offset lag", "Records produced but not yet committed, all selected groups.", "short", 4, 5,
		steps("green", 10000, "yellow", 1000000, "red"),
		query(`sum(max by (cluster, group) (kafka_consumergroup_group_sum_lag{`+groupSel+`}))`, "records")))
	b.WithPanel(statPanel("Max time lag", "How old the oldest record a selected group still has to read is.", "s", 4, 5,
		steps("green", 60, "yellow", 300, "red"),
		query(`max(kafka_consumergroup_group_max_lag_seconds{`+groupSel+`})`, "seconds")))
	b.WithPanel(statPanel("Consumers", "Live members of the selected groups. Zero with lag is a stopped pipeline.", "none", 4, 5,
		steps("red", 1, "green"),
		query(`sum(max by (cluster, group) (kafka_consumergroup_members{`+groupSel+`}))`, "members")))
	b.WithPanel(statPanel("Time to catch up", "Offset lag divided by the rate the groups commit at: how long the backlog takes at the current pace (records still arriving add to it). Empty when nothing is consumed.", "s", 4, 5,
		steps("green", 300, "yellow", 3600, "red"),
		query(`sum(`+partLag+`) / sum(`+consumeRate+` > 0)`, "catch up")))

	b.WithRow(dashboard.NewRowBuilder("Lag per group"))
	b.WithPanel(series("Offset lag per group", "Records produced but not yet committed, per group and topic: the lag trend.", "short", 12, 8,
		query(`sum by (cluster, group, topic) (`+partLag+`)`, "{{group}} {{topic}}")))
	b.WithPanel(series("Time lag per group", "Age of the oldest unread record per group and topic: exact (record timestamp at the committed offset), keeps growing while consumers are down.", "s", 12, 8,
		query(`max by (cluster, group, topic) (`+partSeconds+`)`, "{{group}} {{topic}}")))
	b.WithPanel(signed("Lag trend", "Change of offset lag per second: above zero the group falls behind, below zero it catches up.", "short", 8, 8,
		query(`sum by (cluster, group, topic) (deriv(`+partLag+`[$__rate_interval:]))`, "{{group}} {{topic}}")))
	b.WithPanel(series("Consume and produce rate", "Records per second the groups commit past, and records per second written to their topics.", "ops", 8, 8,
		query(consumeRate, "consumed {{group}} {{topic}}"),
		query(`sum by (cluster, topic) (max by (cluster, topic, partition) (rate(kafka_partition_latest_offset{`+offsetSel+`}[$__rate_interval])))`, "produced {{topic}}")))
	b.WithPanel(series("Estimated time to catch up", "Offset lag divided by the consume rate, per group and topic.", "s", 8, 8,
		query(`sum by (cluster, group, topic) (`+partLag+`) / (`+consumeRate+` > 0)`, "{{group}} {{topic}}")))
	b.WithPanel(series("Consumers per group", "Live members per group. Members beyond the partition count sit idle; zero means nobody consumes.", "none", 12, 7,
		query(`max by (cluster, group) (kafka_consumergroup_members{`+groupSel+`})`, "{{group}}")))
	b.WithPanel(series("Records lost to retention", "Records deleted by retention before the group read them (committed offset below the log start). Any value here is data the group never saw.", "short", 12, 7,
		query(`sum by (cluster, group, topic) (max by (cluster, group, topic, partition) (kafka_consumergroup_group_lost_records{`+lagSel+`}))`, "{{group}} {{topic}}")))

	b.WithRow(dashboard.NewRowBuilder("Partitions"))
	b.WithPanel(tablePanel("Top lagging partitions", "The ten partitions with the most offset lag, with their time lag and status.", 12, 9,
		tableQuery(`topk(10, `+partLag+`)`),
		tableQuery(partSeconds+` and topk(10, `+partLag+`)`),
		tableQuery(`max by (cluster, group, topic, partition) (kafka_consumergroup_partition_status{`+lagSel+`}) and topk(10, `+partLag+`)`)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true},
			"renameByName":  map[string]string{"Value #A": "offset lag", "Value #B": "time lag", "Value #C": "status"},
		}}).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("offset lag").Desc(true)}).
		OverrideByName("time lag", []dashboard.DynamicConfigValue{{Id: "unit", Value: "s"}}).
		OverrideByName("status", []dashboard.DynamicConfigValue{{Id: "mappings", Value: statusMappings()},
			{Id: "custom.cellOptions", Value: map[string]string{"type": "color-background"}}}))
	b.WithPanel(statushistory.NewPanelBuilder().Title("Partition health").
		Description("Status of each partition over time: green OK, yellow WARN, orange REWIND, red STALL, dark red STOP, purple ERR.").
		Datasource(ds).Span(12).Height(9).Mappings(statusMappings()).ShowValue(common.VisibilityModeNever).
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps("green"))).
		WithTarget(query(`max by (cluster, group, topic, partition) (kafka_consumergroup_partition_status{`+lagSel+`})`, "{{group}} {{topic}}/{{partition}}").RefId("A")))
	b.WithPanel(series("Offset lag per partition", "Per partition: uneven lag points at a hot key or a slow member.", "short", 12, 8,
		query(partLag, "{{group}} {{topic}}/{{partition}}")))
	b.WithPanel(series("Time lag per partition", "Age of the oldest unread record per partition.", "s", 12, 8,
		query(partSeconds, "{{group}} {{topic}}/{{partition}}")))
	b.WithPanel(series("Topic offsets", "Log start and end offsets per partition: the end moves with producing, the start with retention.", "short", 12, 7,
		query(`max by (cluster, topic, partition) (kafka_partition_latest_offset{`+offsetSel+`})`, "end {{topic}}/{{partition}}"),
		query(`max by (cluster, topic, partition) (kafka_partition_earliest_offset{`+offsetSel+`})`, "start {{topic}}/{{partition}}")))
	b.WithPanel(series("Lag monitor poll duration", "How long each lag poll takes; near lag.interval the monitor falls behind.", "s", 12, 7,
		query(`max by (cluster, instance) (veltrix_lag_poll_duration_seconds{cluster=~"$cluster"})`, "{{cluster}} {{instance}}")))
	return b
}
