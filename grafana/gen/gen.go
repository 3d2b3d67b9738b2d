// Package gen is the one source of truth for veltrix's Grafana dashboards:
// Go code on Grafana's foundation SDK that builds them. The JSON Grafana
// loads (grafana/dashboards/*.json) is written from here by
//
//	go test ./grafana/gen -update
//
// and a test fails when the committed JSON differs from what the code
// builds, or when a panel queries a metric or label veltrix does not export.
package gen

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Board is one dashboard and the file it is written to.
type Board struct {
	File  string // file name in grafana/dashboards
	Build func() *dashboard.DashboardBuilder
}

// Boards lists every dashboard veltrix ships.
func Boards() []Board {
	return []Board{
		{File: "veltrix-lag.json", Build: Lag},
		{File: "veltrix-pipeline.json", Build: Pipeline},
	}
}

// Render builds b and returns its JSON as Grafana's provisioning reads it:
// indented, with a final newline.
func Render(b Board) ([]byte, error) {
	d, err := b.Build().Build()
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", b.File, err)
	}
	// Number the panels in layout order: Grafana links to a panel by id.
	var id uint32
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			v := id
			p.Panel.Id = &v
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", b.File, err)
	}
	return buf.Bytes(), nil
}
