package doctor

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Retention compares how long the input topic keeps events with how long a
// stopped group must be able to stay down (deploy.outage_tolerance): a group
// that stops consuming falls behind at the full rate, and events it has not
// read are deleted once they are older than retention.ms, or once the
// partition exceeds retention.bytes (which, at the expected rate and record
// size, is also a time).
func Retention(in Input) []Finding {
	if in.Cluster == nil {
		return nil
	}
	var out []Finding
	for _, name := range inputs(in) {
		out = append(out, retention(in, name)...)
	}
	return out
}

// retention is Retention for one input topic. With several, each gets its
// own finding at the full deploy.expected_rate: the rate is the group's,
// and doctor cannot tell how it splits.
func retention(in Input, name string) []Finding {
	c := in.Config
	t, ok := in.Cluster.Topics[name]
	if !ok || !t.Exists {
		return nil
	}
	if strings.Contains(t.CleanupPolicy, "compact") && !strings.Contains(t.CleanupPolicy, "delete") {
		return []Finding{{Check: "retention", Severity: Info,
			Why: fmt.Sprintf("topic %s is compacted, not deleted by age: a stopped group loses only superseded values of a key", t.Name)}}
	}
	rate, d := c.Deploy.ExpectedRate, c.Deploy
	safe, by := time.Duration(math.MaxInt64), ""
	if t.RetentionMs >= 0 {
		safe, by = time.Duration(t.RetentionMs)*time.Millisecond, "retention.ms"
	}
	if t.RetentionBytes >= 0 {
		if rate == 0 {
			return []Finding{{Check: "retention", Severity: Info,
				Why: fmt.Sprintf("topic %s deletes data beyond retention.bytes=%d per partition; without an expected rate doctor cannot say how long a stopped group survives that", t.Name, t.RetentionBytes),
				Fix: "deploy.expected_rate=<events/s>"}}
		}
		perPartition := rate * float64(d.RecordSize) / float64(max(1, t.Partitions)) // bytes/s
		if b := time.Duration(float64(t.RetentionBytes) / perPartition * float64(time.Second)); b < safe {
			safe, by = b, "retention.bytes"
		}
	}
	if by == "" {
		return nil // kept forever
	}
	lag := ""
	if rate > 0 {
		lag = fmt.Sprintf(" (a lag of about %.0f events)", rate*safe.Seconds())
	}
	if safe < d.OutageTolerance {
		fix := fmt.Sprintf("retention.ms=%d", (2 * d.OutageTolerance).Milliseconds())
		if by == "retention.bytes" {
			need := 2 * d.OutageTolerance.Seconds() * rate * float64(d.RecordSize) / float64(max(1, t.Partitions))
			fix = fmt.Sprintf("retention.bytes=%d", int64(need))
		}
		return []Finding{{Check: "retention", Severity: Warn,
			Why: fmt.Sprintf("a stopped group starts losing unread events of topic %s after %s%s because of its %s, less than deploy.outage_tolerance=%s",
				t.Name, human(round(safe)), lag, by, human(d.OutageTolerance)),
			Fix: fix}}
	}
	return []Finding{{Check: "retention", Severity: Info,
		Why: fmt.Sprintf("a stopped group can stay down %s%s before topic %s's %s deletes unread events", human(round(safe)), lag, t.Name, by)}}
}

// round shortens a duration for a sentence.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}
