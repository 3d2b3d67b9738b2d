package doctor

import (
	"fmt"
	"strconv"
	"time"
)

// Timeouts compares the time a partition's work can take with the group's
// timeouts. franz-go heartbeats in the background, so a slow batch never
// misses a heartbeat and the session timeout only bounds failure detection;
// what a slow batch can break is a rebalance: the revoke callback waits up
// to processor.rebalance.drain_timeout for the in-flight batch, and a member
// that takes longer than processor.group.rebalance_timeout to rejoin is
// thrown out of the group, which starts another rebalance.
func Timeouts(in Input) []Finding {
	c := in.Config
	g, drain, ht := c.Processor.Group, c.Processor.Rebalance.DrainTimeout, c.Processor.HandlerTimeout
	var out []Finding
	if drain >= g.RebalanceTimeout {
		out = append(out, Finding{Check: "timeouts", Severity: Error,
			Why: fmt.Sprintf("a revoke may wait processor.rebalance.drain_timeout=%s for in-flight work, not less than processor.group.rebalance_timeout=%s: a slow batch gets the member thrown out mid-rebalance and starts a rebalance storm",
				human(drain), human(g.RebalanceTimeout)),
			Fix: "processor.rebalance.drain_timeout=" + setting(half(g.RebalanceTimeout))})
	}
	switch {
	case ht >= g.RebalanceTimeout:
		out = append(out, Finding{Check: "timeouts", Severity: Warn,
			Why: fmt.Sprintf("one handler call may run handler.timeout=%s, not less than processor.group.rebalance_timeout=%s: such a batch can never finish within a rebalance, so it is abandoned at the drain timeout and handled again by the next owner",
				human(ht), human(g.RebalanceTimeout)),
			Fix: "handler.timeout=" + setting(drain)})
	case ht > drain:
		out = append(out, Finding{Check: "timeouts", Severity: Info,
			Why: fmt.Sprintf("a batch slower than processor.rebalance.drain_timeout=%s (handler.timeout allows %s) is abandoned when its partition is revoked and handled again by the next owner: duplicates on that rebalance",
				human(drain), human(ht))})
	}
	if s := c.Processor.ShutdownTimeout; s < drain {
		out = append(out, Finding{Check: "timeouts", Severity: Info,
			Why: fmt.Sprintf("processor.shutdown_timeout=%s is shorter than processor.rebalance.drain_timeout=%s, so a shutdown gives in-flight batches less time to finish than a rebalance does", human(s), human(drain)),
			Fix: "processor.shutdown_timeout=" + setting(drain)})
	}
	return out
}

// batchTime estimates how long the handler takes for a full batch, when
// the handler's cost is known: only simulate declares it.
func batchTime(in Input) (time.Duration, bool) {
	h := in.Config.Handler
	if h.Name != "simulate" {
		return 0, false
	}
	return h.Simulate.BatchDelay + time.Duration(in.Config.Processor.Batch.MaxRecords)*h.Simulate.RecordDelay, true
}

// BatchDuration compares the time a full batch takes (batch.max_records ×
// the per-record time, plus the per-batch time, when the handler declares
// them) with handler.timeout and the drain timeout.
func BatchDuration(in Input) []Finding {
	est, ok := batchTime(in)
	if !ok {
		return nil
	}
	c := in.Config
	sim, maxRecs := c.Handler.Simulate, c.Processor.Batch.MaxRecords
	// recordsWithin is the batch size that takes at most d.
	recordsWithin := func(d time.Duration) string {
		if sim.RecordDelay <= 0 || d <= sim.BatchDelay {
			return ""
		}
		return "processor.batch.max_records=" + strconv.Itoa(max(1, int((d-sim.BatchDelay)/sim.RecordDelay)))
	}
	switch {
	case est >= c.Processor.HandlerTimeout:
		fix := recordsWithin(half(c.Processor.HandlerTimeout))
		if fix == "" {
			fix = "handler.timeout=" + setting(2*est)
		}
		return []Finding{{Check: "batch", Severity: Error,
			Why: fmt.Sprintf("a full batch of %d records takes about %s, not less than handler.timeout=%s: every full batch times out, is retried and fails",
				maxRecs, human(est), human(c.Processor.HandlerTimeout)),
			Fix: fix}}
	case est > c.Processor.Rebalance.DrainTimeout:
		fix := recordsWithin(half(c.Processor.Rebalance.DrainTimeout))
		if fix == "" {
			fix = "processor.rebalance.drain_timeout=" + setting(2*est)
		}
		return []Finding{{Check: "batch", Severity: Warn,
			Why: fmt.Sprintf("a full batch of %d records takes about %s, longer than processor.rebalance.drain_timeout=%s: every rebalance abandons in-flight batches and the next owner handles them again",
				maxRecs, human(est), human(c.Processor.Rebalance.DrainTimeout)),
			Fix: fix}}
	}
	return nil
}

// half is d/2 rounded down to a millisecond.
func half(d time.Duration) time.Duration { return (d / 2).Truncate(time.Millisecond) }
