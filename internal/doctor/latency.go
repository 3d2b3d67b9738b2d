package doctor

import (
	"fmt"
	"time"
)

// Latency compares the waits the configuration adds to every event —
// producer.linger before it is sent, processor.batch.max_wait before it is
// handled, and a full batch's handling time when the handler declares it —
// with deploy.p99_target. A fetch does not add its max_wait: the broker
// answers as soon as data arrives.
func Latency(in Input) []Finding {
	c := in.Config
	target := c.Deploy.P99Target
	if target == 0 {
		return nil
	}
	linger, wait := c.Producer.Linger, c.Processor.Batch.MaxWait
	est, _ := batchTime(in)
	added := linger + wait + est
	budget := target / 2 // the rest is for the broker round trips and queueing
	var out []Finding
	switch {
	case linger >= target:
		out = append(out, Finding{Check: "latency", Severity: Error,
			Why: fmt.Sprintf("producer.linger=%s alone reaches deploy.p99_target=%s: at low rates nearly every event waits the full linger", human(linger), human(target)),
			Fix: "producer.linger=" + setting(lingerFor(target))})
	case added >= target:
		out = append(out, Finding{Check: "latency", Severity: Error,
			Why: fmt.Sprintf("%s = %s reach deploy.p99_target=%s before any network time", waits(in), human(added), human(target)),
			Fix: latencyFix(in, target)})
	case added > budget:
		out = append(out, Finding{Check: "latency", Severity: Warn,
			Why: fmt.Sprintf("%s = %s use more than half (%s) of deploy.p99_target=%s, leaving little for the broker round trips and queueing under load", waits(in), human(added), human(budget), human(target)),
			Fix: latencyFix(in, target)})
	}
	return out
}

// waits spells out the sum Latency compares: each wait by its key, and a
// full batch's handling when the handler declares its cost.
func waits(in Input) string {
	c := in.Config
	s := fmt.Sprintf("producer.linger=%s + processor.batch.max_wait=%s", human(c.Producer.Linger), human(c.Processor.Batch.MaxWait))
	if est, ok := batchTime(in); ok {
		s += fmt.Sprintf(" + a full batch's handling (%s)", human(est))
	}
	return s
}

// lingerFor is the linger that costs at most a twentieth of target.
func lingerFor(target time.Duration) time.Duration {
	return (target / 20).Truncate(100 * time.Microsecond)
}

// latencyFix names the change that removes the largest wait.
func latencyFix(in Input, target time.Duration) string {
	c := in.Config
	linger, wait := c.Producer.Linger, c.Processor.Batch.MaxWait
	est, _ := batchTime(in)
	switch {
	case wait >= linger && wait >= est:
		return "processor.batch.max_wait=0s"
	case linger >= est:
		return "producer.linger=" + setting(lingerFor(target))
	}
	sim := c.Handler.Simulate
	n := 1
	if sim.RecordDelay > 0 && target/4 > sim.BatchDelay {
		n = max(1, int((target/4-sim.BatchDelay)/sim.RecordDelay))
	}
	return fmt.Sprintf("processor.batch.max_records=%d", n)
}
