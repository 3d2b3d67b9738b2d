package gen

import (
	"errors"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// problems returns the messages in err, an error from the foundation SDK.
// Its strict decoder and Validate return a cog.BuildErrors that is a
// non-nil error even when it holds no problem, so the list's length is
// what counts.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	var be cog.BuildErrors
	if !errors.As(err, &be) {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range be {
		out = append(out, e.Error())
	}
	return out
}

// TestDashboardsDecodeStrictly decodes every committed dashboard with the
// foundation SDK's strict decoder (every panel's options and field config
// checked against its plugin's schema, unknown fields rejected) and runs
// Validate, the way a tool that loads dashboards strictly would. Issue 17:
// the table panel "Top lagging partitions" had options.footer.reducer null
// where the schema wants an array.
func TestDashboardsDecodeStrictly(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for file, raw := range loadBoards(t) {
		t.Run(file, func(t *testing.T) {
			var d dashboard.Dashboard //nolint:staticcheck // the committed dashboards are the v1 schema provisioning loads, not v2
			for _, p := range problems(d.UnmarshalJSONStrict(raw)) {
				t.Errorf("strict decode: %s", p)
			}
			for _, p := range problems(d.Validate()) {
				t.Errorf("validate: %s", p)
			}
			if len(d.Panels) == 0 {
				t.Errorf("decoded no panels")
			}
		})
	}
}
