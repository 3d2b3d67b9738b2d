package faults

import (
	"fmt"
	"strconv"
)

// Key-ordered variants of scenarios: the same faults with every member
// running `--processor.ordering key --processor.concurrency 16`, so that a
// partition's records of different keys are handled up to 16 at a time
// behind an offset window (docs/ordering.md). veltrix verify judges order
// per producer and key, which is what key ordering keeps: out of order must
// stay 0 and nothing may be lost.
//
// Duplicates are held to the partition-ordering bounds: a graceful
// handover (a revoke or shutdown within the drain deadline) lets every
// sub-lane handle what it was dispatched, so the commit covers it and
// nothing is redone (baseline-key, rolling-restart-key and scale-key must
// show 0). A partition taken over after a SIGKILL is taken up from its
// lowest unfinished record, so the records above it that other sub-lanes
// had finished are handled again (at most processor.max_in_flight per
// partition and kill), within sigkill's duplicate bound.

// keyConcurrency is the processor.concurrency the variants run with.
const keyConcurrency = 16

// keyOrderFlags are the member flags of a key-ordered run.
var keyOrderFlags = []string{"--processor.ordering", "key", "--processor.concurrency", strconv.Itoa(keyConcurrency)}

// keyOrdered makes the key-ordered variant of the scenario name, named
// name-key: run with every member in key ordering, the result relabelled;
// fullOnly leaves it out of CI's test-scale run.
func keyOrdered(name, what string, run func(*Env) (Result, error), fullOnly bool) Scenario {
	return Scenario{
		Name: name + "-key", FullOnly: fullOnly,
		What: what + "; processor.ordering key, concurrency " + strconv.Itoa(keyConcurrency),
		Run: func(env *Env) (Result, error) {
			e := *env
			e.Ordering = "key"
			res, err := run(&e)
			res.Scenario = name + "-key"
			note := fmt.Sprintf("ordering key, concurrency %d (out of order counted per key)", keyConcurrency)
			if res.Notes != "" {
				note += "; " + res.Notes
			}
			res.Notes = note
			return res, err
		},
	}
}

// memberFlags are the flags every member of a run starts with beyond the
// common ones: the ordering's.
func (e *Env) memberFlags() []string {
	if e.Ordering == "key" {
		return keyOrderFlags
	}
	return nil
}
