package metrics

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/metrics.md")

// TestReferenceFresh fails when docs/metrics.md no longer matches the
// metric definitions.
func TestReferenceFresh(t *testing.T) {
	const path = "../../docs/metrics.md"
	want := Reference()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s is stale: run go test ./pkg/metrics -update", path)
	}
}

// TestReferenceListsEveryDefinition checks the reading back itself: every
// metric with its type and labels in declared order.
func TestReferenceListsEveryDefinition(t *testing.T) {
	ref := Reference()
	for _, row := range []string{
		"| `veltrix_failed_records_total` | counter | `topic`, `outcome` |",
		"| `veltrix_end_to_end_latency_seconds` | histogram | `topic` |",
		"| `veltrix_partition_lag_records` | gauge | `group`, `topic`, `partition` |",
		"| `veltrix_ready` | gauge | — |",
		"| `veltrix_live` | gauge | — |",
		"| `kafka_consumergroup_members_info` | gauge | `cluster`, `group`, `member_id`, `client_id`, `host` |",
		"| `veltrix_lag_poll_timestamp_seconds` | gauge | `cluster` |",
		"| `veltrix_offset_resets_total` | counter | `group`, `topic`, `target` |",
	} {
		if !strings.Contains(ref, row) {
			t.Errorf("reference lacks %q", row)
		}
	}
	if n, want := len(pipelineDefinitions())+len(lagDefinitions())+len(offsetsDefinitions()), 28+16+1; n != want {
		t.Errorf("%d definitions, want %d", n, want)
	}
}
