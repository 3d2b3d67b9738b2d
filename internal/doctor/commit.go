package doctor

import (
	"fmt"
	"strconv"
	"time"
)

// MaxCrashDuplicates is the number of records a crash of one instance may
// make the group handle twice before doctor warns about the commit interval.
const MaxCrashDuplicates = 100_000

// CommitDuplicates sizes the duplicates a crash causes: offsets are
// committed every processor.commit.interval, so an instance that dies
// without a clean shutdown leaves up to one interval of its finished work,
// plus the batches in flight, to be handled again by the next owner.
func CommitDuplicates(in Input) []Finding {
	c := in.Config
	pb := c.Processor.Batch
	inflight := partitionsPerInstance(in) * pb.MaxRecords
	switch c.Processor.Commit.Mode {
	case "manual":
		return []Finding{{Check: "commit", Severity: Info,
			Why: "processor.commit.mode=manual leaves commits to the Go API, so doctor cannot bound the duplicates a crash causes"}}
	case "batch":
		return []Finding{{Check: "commit", Severity: Info,
			Why: fmt.Sprintf("processor.commit.mode=batch commits after every batch: a crash replays at most the batches in flight (up to %d records per instance), at the cost of one commit round trip per batch", inflight)}}
	}
	rate, n := c.Deploy.ExpectedRate, c.Deploy.Instances
	interval := c.Processor.Commit.Interval
	if rate == 0 {
		return []Finding{{Check: "commit", Severity: Info,
			Why: fmt.Sprintf("a crash replays up to processor.commit.interval=%s of an instance's work; set the expected rate to see how many records that is", human(interval)),
			Fix: "deploy.expected_rate=<events/s>"}}
	}
	perInstance := rate / float64(n)
	dups := int64(perInstance*interval.Seconds()) + int64(inflight)
	all := int64(rate*interval.Seconds()) + int64(inflight*n)
	if dups > MaxCrashDuplicates {
		// The interval that keeps one instance's replay within the bound.
		want := time.Duration(float64(MaxCrashDuplicates-min(inflight, MaxCrashDuplicates/2)) / perInstance * float64(time.Second))
		want = max(10*time.Millisecond, want.Truncate(10*time.Millisecond))
		return []Finding{{Check: "commit", Severity: Warn,
			Why: fmt.Sprintf("at %s events/s over %d instances, a crash of one instance makes the group handle about %d records twice (%s × %.0f/s = %d, plus %d in flight), more than the %d doctor allows",
				fmtRate(rate), n, dups, human(interval), perInstance, int64(perInstance*interval.Seconds()), inflight, MaxCrashDuplicates),
			Fix: "processor.commit.interval=" + setting(want)}}
	}
	return []Finding{{Check: "commit", Severity: Info,
		Why: fmt.Sprintf("a crash of one instance makes the group handle about %d records twice (%d if every instance crashes at once)", dups, all)}}
}

func fmtRate(r float64) string {
	if r == float64(int64(r)) {
		return strconv.FormatInt(int64(r), 10)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}
