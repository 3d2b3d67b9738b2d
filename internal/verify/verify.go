// Package verify checks a pipeline's delivery: it reads an input topic and
// an output topic (and optionally a dead-letter topic) written by any
// pipeline that keeps record headers, and reports, per producer and per key,
// the events produced, delivered, lost, duplicated and out of order.
package verify

import (
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/event"
)

// Counts are delivery totals for one producer, one key, or everything.
type Counts struct {
	Produced     int64 `json:"produced"`      // distinct events in the input
	Delivered    int64 `json:"delivered"`     // distinct input events found in the output
	Lost         int64 `json:"lost"`          // input events in neither the output nor the dead letters
	Duplicated   int64 `json:"duplicated"`    // output copies beyond the first
	OutOfOrder   int64 `json:"out_of_order"`  // output events that arrived after a later event of the same producer and key
	DeadLettered int64 `json:"dead_lettered"` // input events found in the dead-letter topic instead
}

// OK reports whether nothing was lost, duplicated or reordered.
func (c Counts) OK() bool { return c.Lost == 0 && c.Duplicated == 0 && c.OutOfOrder == 0 }

func (c *Counts) add(o Counts) {
	c.Produced += o.Produced
	c.Delivered += o.Delivered
	c.Lost += o.Lost
	c.Duplicated += o.Duplicated
	c.OutOfOrder += o.OutOfOrder
	c.DeadLettered += o.DeadLettered
}

// ProducerReport is one producer's totals.
type ProducerReport struct {
	Producer string `json:"producer"`
	Counts
}

// KeyReport is one key's totals, listed only when something went wrong.
type KeyReport struct {
	Producer string `json:"producer"`
	Key      string `json:"key"`
	Counts
}

// Report is the outcome of a verification.
type Report struct {
	Total        Counts           `json:"total"`
	Producers    []ProducerReport `json:"producers"`
	ProblemKeys  []KeyReport      `json:"problem_keys"`  // keys with a loss, duplicate or reordering (at most MaxProblemKeys)
	MoreProblems int              `json:"more_problems"` // problem keys beyond the list
	InputRecords int64            `json:"input_records"` // records read from the input
	Unidentified int64            `json:"unidentified"`  // input records without a veltrix identity, not checked
	Malformed    int64            `json:"malformed"`     // of those, records whose identity (headers, or a generated value's start) was present but unreadable
	Strays       int64            `json:"strays"`        // output events that were never in the input
}

// ErrNothingChecked is returned by Report.Err when no input record carried
// a readable identity: a report of 0 lost would say nothing.
var ErrNothingChecked = errors.New("verify checked nothing")

// Err returns an error wrapping ErrNothingChecked, saying why, when no
// input event could be identified (an empty input, records without the
// identity veltrix produce writes, or with a malformed one); nil
// otherwise. Delivery problems are in Total, not here.
func (r Report) Err() error {
	if r.Total.Produced > 0 {
		return nil
	}
	switch {
	case r.InputRecords == 0:
		return fmt.Errorf("%w: the input has no records", ErrNothingChecked)
	case r.Malformed > 0:
		return fmt.Errorf("%w: none of the %d input records carried a readable identity (%d had malformed ones: %s/%s headers, or a value beginning {\"producer\": without a readable producer and seq); write the input with veltrix produce",
			ErrNothingChecked, r.InputRecords, r.Malformed, event.HeaderProducer, event.HeaderSeq)
	}
	return fmt.Errorf("%w: none of the %d input records carried an identity (a generated event's JSON value, or the %s and %s headers); write the input with veltrix produce",
		ErrNothingChecked, r.InputRecords, event.HeaderProducer, event.HeaderSeq)
}

// MaxProblemKeys bounds Report.ProblemKeys.
const MaxProblemKeys = 50

type keyID struct{ producer, key string }

type inEvent struct{ key string }

// Checker accumulates records and builds the report. Feed it the whole
// input first, then the output and dead letters in their partition order.
type Checker struct {
	in           map[event.ID]inEvent
	out          map[event.ID]int
	dlq          map[event.ID]bool
	lastSeq      map[keyID]uint64
	outOfOrder   map[keyID]int64
	inputs       int64
	unidentified int64
	malformed    int64
	strays       int64
}

// NewChecker returns an empty Checker.
func NewChecker() *Checker {
	return &Checker{in: map[event.ID]inEvent{}, out: map[event.ID]int{}, dlq: map[event.ID]bool{},
		lastSeq: map[keyID]uint64{}, outOfOrder: map[keyID]int64{}}
}

// Input records one input record.
func (c *Checker) Input(r *kgo.Record) {
	c.inputs++
	id, ok := event.Of(r)
	if !ok {
		c.unidentified++
		if event.Marked(r) {
			c.malformed++
		}
		return
	}
	c.in[id] = inEvent{key: string(r.Key)}
}

// Output records one output record. Records of one partition must arrive
// in offset order; ordering is checked per producer and key, which a
// key-preserving pipeline keeps in one partition.
func (c *Checker) Output(r *kgo.Record) {
	id, ok := event.Of(r)
	if !ok {
		return
	}
	if _, known := c.in[id]; !known {
		c.strays++
		return
	}
	c.out[id]++
	if c.out[id] > 1 {
		return // a redelivered copy; ordering is judged on first arrivals
	}
	k := keyID{id.Producer, string(r.Key)}
	if last, seen := c.lastSeq[k]; seen && id.Seq < last {
		c.outOfOrder[k]++
		return
	}
	c.lastSeq[k] = id.Seq
}

// DeadLetter records one dead-letter record.
func (c *Checker) DeadLetter(r *kgo.Record) {
	if id, ok := event.Of(r); ok {
		c.dlq[id] = true
	}
}

// Report builds the report.
func (c *Checker) Report() Report {
	byProducer := map[string]*Counts{}
	byKey := map[keyID]*Counts{}
	get := func(m map[keyID]*Counts, k keyID) *Counts {
		if m[k] == nil {
			m[k] = &Counts{}
		}
		return m[k]
	}
	for id, ev := range c.in {
		k := keyID{id.Producer, ev.key}
		kc := get(byKey, k)
		kc.Produced++
		switch n := c.out[id]; {
		case n > 0:
			kc.Delivered++
			kc.Duplicated += int64(n - 1)
		case c.dlq[id]:
			kc.DeadLettered++
		default:
			kc.Lost++
		}
	}
	for k, n := range c.outOfOrder {
		get(byKey, k).OutOfOrder += n
	}
	rep := Report{InputRecords: c.inputs, Unidentified: c.unidentified, Malformed: c.malformed, Strays: c.strays}
	for k, kc := range byKey {
		if byProducer[k.producer] == nil {
			byProducer[k.producer] = &Counts{}
		}
		byProducer[k.producer].add(*kc)
		rep.Total.add(*kc)
		if !kc.OK() {
			rep.ProblemKeys = append(rep.ProblemKeys, KeyReport{Producer: k.producer, Key: k.key, Counts: *kc})
		}
	}
	for p, pc := range byProducer {
		rep.Producers = append(rep.Producers, ProducerReport{Producer: p, Counts: *pc})
	}
	sort.Slice(rep.Producers, func(i, j int) bool { return rep.Producers[i].Producer < rep.Producers[j].Producer })
	sort.Slice(rep.ProblemKeys, func(i, j int) bool {
		a, b := rep.ProblemKeys[i], rep.ProblemKeys[j]
		if a.Lost+a.Duplicated+a.OutOfOrder != b.Lost+b.Duplicated+b.OutOfOrder {
			return a.Lost+a.Duplicated+a.OutOfOrder > b.Lost+b.Duplicated+b.OutOfOrder
		}
		return a.Producer+a.Key < b.Producer+b.Key
	})
	if len(rep.ProblemKeys) > MaxProblemKeys {
		rep.MoreProblems = len(rep.ProblemKeys) - MaxProblemKeys
		rep.ProblemKeys = rep.ProblemKeys[:MaxProblemKeys]
	}
	return rep
}
