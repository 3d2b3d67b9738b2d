package gen

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The UIDs are fixed so links, bookmarks and provisioning updates keep
// pointing at the same dashboards.
const (
	LagUID      = "veltrix-lag"
	PipelineUID = "veltrix-pipeline"
)

// ds points every panel and query at the dashboard's datasource variable.
var ds = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// Selectors used in every query, so each dashboard's variables filter it.
const (
	// lagSel filters the lag monitor's series.
	lagSel = `cluster=~"$cluster", group=~"$group", topic=~"$topic"`
	// offsetSel filters partition offset series, which have no group.
	offsetSel = `cluster=~"$cluster", topic=~"$topic"`
	// groupSel filters veltrix series labelled by group.
	groupSel = `cluster=~"$cluster", group=~"$group"`
	// topicSel filters veltrix series labelled by topic.
	topicSel = `cluster=~"$cluster", topic=~"$topic"`
)

// query is one PromQL target: a range query with a legend, or an instant
// query for tables and stats.
func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).LegendFormat(legend).Range()
}

// instant is a query evaluated once, at the end of the time range.
func instant(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).LegendFormat(legend).Instant()
}

// tableQuery is an instant query whose labels become table columns.
func tableQuery(expr string) *prometheus.DataqueryBuilder {
	return instant(expr, "").Format(prometheus.PromQueryFormatTable)
}

// refs gives the targets of one panel distinct ids A, B, C...
func refs(qs []*prometheus.DataqueryBuilder) []*prometheus.DataqueryBuilder {
	for i, q := range qs {
		q.RefId(string(rune('A' + i)))
	}
	return qs
}

// series is a time-series panel of width w (of 24) and height h for values
// that are never negative: the axis starts at zero.
func series(title, desc, unit string, w, h uint32, qs ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return seriesBase(title, desc, unit, w, h, qs...).Min(0)
}

// signed is a time-series panel whose values may be negative (trends): the
// axis is centred on zero.
func signed(title, desc, unit string, w, h uint32, qs ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return seriesBase(title, desc, unit, w, h, qs...).AxisCenteredZero(true)
}

func seriesBase(title, desc, unit string, w, h uint32, qs ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Title(title).Description(desc).Datasource(ds).Unit(unit).Span(w).Height(h).
		LineWidth(1).FillOpacity(10).ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).
			DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementBottom).
			Calcs([]string{"lastNotNull", "max"}).SortBy("Last *").SortDesc(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	for _, q := range refs(qs) {
		p.WithTarget(q)
	}
	return p
}

// statPanel is a single-value panel coloured by steps.
func statPanel(title, desc, unit string, w, h uint32, steps []dashboard.Threshold, qs ...*prometheus.DataqueryBuilder) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().
		Title(title).Description(desc).Datasource(ds).Unit(unit).Span(w).Height(h).
		ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeArea).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps))
	for _, q := range refs(qs) {
		p.WithTarget(q)
	}
	return p
}

// tablePanel shows instant queries as rows, one column per label.
func tablePanel(title, desc string, w, h uint32, qs ...*prometheus.DataqueryBuilder) *table.PanelBuilder {
	// The SDK's default footer has a null reducer, which its own strict
	// decoder (and Grafana's schema) rejects: the schema wants an array.
	footer := common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{}).CountRows(false)
	p := table.NewPanelBuilder().Title(title).Description(desc).Datasource(ds).Span(w).Height(h).Footer(footer)
	for _, q := range refs(qs) {
		p.WithTarget(q)
	}
	return p
}

// steps builds threshold steps: a base colour, then value/colour pairs.
func steps(base string, pairs ...any) []dashboard.Threshold {
	out := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(pairs); i += 2 {
		v := toFloat(pairs[i])
		out = append(out, dashboard.Threshold{Value: &v, Color: pairs[i+1].(string)})
	}
	return out
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int:
		return float64(v)
	case float64:
		return v
	}
	panic("steps: threshold values are int or float64")
}

// variables are the ones both dashboards have: the datasource, and the
// cluster, group and topic filters, each multi-valued with All meaning
// ".*" (so series without the label still match).
func variables(b *dashboard.DashboardBuilder, clusterQ, groupQ, topicQ string) {
	b.WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"))
	for _, v := range []struct{ name, label, q string }{
		{"cluster", "Cluster", clusterQ},
		{"group", "Consumer group", groupQ},
		{"topic", "Topic", topicQ},
	} {
		b.WithVariable(dashboard.NewQueryVariableBuilder(v.name).Label(v.label).
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(v.q)}).Definition(v.q).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true).AllValue(".*").
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
				Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")}}))
	}
}

// board starts a dashboard with the settings both share.
func board(title, uid, desc string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).Uid(uid).Description(desc).
		Tags([]string{"veltrix", "kafka"}).Editable().
		Refresh("30s").Time("now-1h", "now").Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("veltrix").Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"veltrix"}).AsDropdown(false).IncludeVars(true).KeepTime(true))
}
