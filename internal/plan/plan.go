// Package plan turns a target rate and latency into a deployment: how many
// partitions, how many processor instances, what batch size and linger. The
// calculation (Compute) is pure; Measure finds what one instance and one
// partition lane handle by running the real engine on an embedded cluster.
package plan

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults of the assumptions Compute makes.
const (
	// DefaultUtilisation is the share of measured capacity a plan uses at
	// the target rate: 30% headroom absorbs bursts, rebalances (a member's
	// partitions stop while they move), a lost instance and the backlog
	// after an outage, which must drain faster than events arrive.
	DefaultUtilisation = 0.7
	// DefaultGrowth is how many partitions per instance a new or
	// repartitioned topic gets, so the group can double its instances later
	// without adding partitions (which moves keys between partitions).
	DefaultGrowth = 2
	// MaxBatchRecords caps the recommended batch size.
	MaxBatchRecords = 10000
	// MaxConcurrency caps the recommended processor.concurrency: beyond a
	// few hundred calls in flight per partition an instance's CPU, memory
	// and the handler's downstream bind long before the partition does.
	MaxConcurrency = 256
	// ioBoundScaling is how close to linear an instance's rate must grow
	// with its lanes for the handler to count as I/O-bound (IOBound).
	ioBoundScaling = 0.8
)

// Input is what a plan is computed from.
type Input struct {
	Rate float64       // target events/s
	P99  time.Duration // end-to-end p99 target; 0 for none

	// PerInstance is what one instance handles with every lane busy, in
	// records/s. PerPartition is what one partition's lane handles alone;
	// 0 means the lanes are not the limit (the instance is).
	PerInstance  float64
	PerPartition float64

	// Partitions the topic has now; partitions can be added, never
	// removed. 0 for a topic that does not exist yet.
	Partitions int

	BatchMaxRecords int           // the configured batch size
	BatchMaxBytes   int64         // the configured batch byte bound; 0 for none
	RecordSize      int64         // a typical record's bytes; 0 when unknown
	BatchMaxWait    time.Duration // the configured batch wait
	Linger          time.Duration // the configured producer linger

	Utilisation float64 // share of capacity to use; 0 means DefaultUtilisation
	Growth      int     // partitions per instance to leave; 0 means DefaultGrowth

	// Ordering and Concurrency are the processor.ordering ("" is
	// partition) and processor.concurrency the rates were measured with:
	// in key and none ordering PerPartition is Concurrency calls in flight.
	Ordering    string
	Concurrency int
	// IOBound says the handler waits rather than computes (see IOBound):
	// then more calls in flight per partition raise a partition's rate,
	// and key ordering can stand in for partitions.
	IOBound bool
	// FixedPartitions says the topic's partition count may not change
	// (keys must not move, or the topic is not the group's to alter).
	FixedPartitions bool
}

// Plan is a recommended deployment and the reasoning behind it.
type Plan struct {
	Rate         float64       `json:"rate"`
	P99          time.Duration `json:"p99_ns,omitempty"`
	PerInstance  float64       `json:"per_instance"`
	PerPartition float64       `json:"per_partition,omitempty"`
	Utilisation  float64       `json:"utilisation"`

	Partitions      int           `json:"partitions"`
	Instances       int           `json:"instances"`
	MaxInstances    int           `json:"max_instances"` // the autoscaler's useful maximum: one per partition
	BatchMaxRecords int           `json:"batch_max_records"`
	BatchMaxWait    time.Duration `json:"batch_max_wait_ns"`
	Linger          time.Duration `json:"linger_ns"`

	// Capacity is what the planned group handles at full utilisation;
	// Load is Rate over Capacity.
	Capacity float64 `json:"capacity"`
	Load     float64 `json:"load"`

	// Set when the plan raises the calls in flight per partition instead
	// of (or besides) adding partitions: processor.ordering,
	// processor.concurrency and processor.max_in_flight; Latency is the
	// handler's time per record on one call stream, which the concurrency
	// is computed from.
	Ordering    string        `json:"ordering,omitempty"`
	Concurrency int           `json:"concurrency,omitempty"`
	MaxInFlight int           `json:"max_in_flight,omitempty"`
	Latency     time.Duration `json:"latency_ns,omitempty"`

	Changes []string `json:"changes"` // the plan as key=value settings
	Notes   []string `json:"notes"`   // why, and what to do outside veltrix
}

// Compute recommends partitions, instances, batch size and linger for
// in.Rate and in.P99. It never recommends more instances than partitions:
// when the rate needs more instances than the topic has partitions, it
// recommends more partitions.
func Compute(in Input) (Plan, error) {
	if !(in.Rate > 0) || math.IsInf(in.Rate, 0) {
		return Plan{}, errors.New("the target rate must be above 0 events/s")
	}
	if !(in.PerInstance > 0) || math.IsInf(in.PerInstance, 0) {
		return Plan{}, errors.New("the per-instance rate must be above 0 records/s")
	}
	u := in.Utilisation
	if u <= 0 || u > 1 {
		u = DefaultUtilisation
	}
	growth := in.Growth
	if growth <= 0 {
		growth = DefaultGrowth
	}
	p := Plan{Rate: in.Rate, P99: in.P99, PerInstance: in.PerInstance, PerPartition: in.PerPartition, Utilisation: u}
	// One call stream's rate: a partition's lane in partition ordering, a
	// sub-lane in key and none ordering. Batches are sized from it.
	stream := in
	if calls := measuredCalls(in); calls > 1 {
		stream.PerPartition = in.PerPartition / float64(calls)
	}
	in = moreCalls(in, u, &p)

	// A lane handles one partition in order, so the partitions bound the
	// rate as much as the instances do.
	minParts := 1
	if in.PerPartition > 0 {
		minParts = ceil(in.Rate / (in.PerPartition * u))
	}
	minInst := ceil(in.Rate / (in.PerInstance * u))
	need := max(minParts, minInst)
	switch {
	case in.Partitions > 0 && in.Partitions < need && in.FixedPartitions:
		p.Partitions = in.Partitions
		p.Notes = append(p.Notes, fmt.Sprintf("the topic's %d partitions are fixed but the rate needs %d: the group handles at most %s records/s (one instance per partition, fully loaded); the target is out of reach without more partitions%s",
			in.Partitions, need, trimFloat(math.Round(capacity(in, 1)*float64(in.Partitions))), unlessIOBound(in)))
	case in.Partitions >= need:
		p.Partitions = in.Partitions
	case in.Partitions == 0:
		p.Partitions = max(need, minInst*growth)
		p.Notes = append(p.Notes, fmt.Sprintf("create the topic with %d partitions: the rate needs %d instance(s) and %d partition(s), and %d partitions per instance leave room to double the group without adding partitions",
			p.Partitions, minInst, need, growth))
	default:
		p.Partitions = max(need, minInst*growth)
		p.Notes = append(p.Notes, fmt.Sprintf("the topic has %d partitions but the rate needs at least %d: add partitions before scaling out (kafka-topics --alter --partitions %d); more instances than partitions would sit idle, and adding partitions moves keys to new partitions",
			in.Partitions, need, p.Partitions))
	}

	// The fewest instances whose busiest member stays within u of its
	// capacity. n = Partitions always fits, since Partitions >= minInst
	// (unless the partitions are fixed too few: then every one is used).
	for n := min(minInst, p.Partitions); n <= p.Partitions; n++ {
		k := ceil(float64(p.Partitions) / float64(n)) // the busiest member's partitions
		load := in.Rate * float64(k) / float64(p.Partitions)
		if load <= u*capacity(in, k)*(1+1e-9) {
			p.Instances = n
			break
		}
	}
	if p.Instances == 0 { // fixed partitions too few for the rate: use them all
		p.Instances = p.Partitions
	}
	p.MaxInstances = p.Partitions
	k := ceil(float64(p.Partitions) / float64(p.Instances))
	p.Capacity = capacity(in, k) * float64(p.Partitions) / float64(k)
	p.Load = in.Rate / p.Capacity
	if p.Partitions%p.Instances != 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d partitions over %d instances is uneven: some own %d and some %d; the plan sizes for the busiest",
			p.Partitions, p.Instances, k, k-1))
	}

	p.BatchMaxRecords, p.BatchMaxWait, p.Linger = batching(stream, &p)
	p.MaxInFlight = maxInFlight(in.Rate, &p)

	p.Changes = []string{
		fmt.Sprintf("topic.partitions=%d", p.Partitions),
		fmt.Sprintf("deploy.instances=%d", p.Instances),
		fmt.Sprintf("deploy.max_instances=%d", p.MaxInstances),
		fmt.Sprintf("deploy.expected_rate=%s", trimFloat(in.Rate)),
		fmt.Sprintf("processor.batch.max_records=%d", p.BatchMaxRecords),
		fmt.Sprintf("processor.batch.max_wait=%s", p.BatchMaxWait),
		fmt.Sprintf("producer.linger=%s", p.Linger),
	}
	if p.Concurrency > 0 {
		p.Changes = append(p.Changes,
			fmt.Sprintf("processor.ordering=%s", p.Ordering),
			fmt.Sprintf("processor.concurrency=%d", p.Concurrency),
			fmt.Sprintf("processor.max_in_flight=%d", p.MaxInFlight))
	}
	if in.P99 > 0 {
		p.Changes = append(p.Changes, fmt.Sprintf("deploy.p99_target=%s", in.P99))
	}
	return p, nil
}

// measuredCalls is how many handler calls per partition were in flight
// when PerPartition was measured: processor.concurrency in key and none
// ordering, one in partition ordering.
func measuredCalls(in Input) int {
	if in.Ordering == "key" || in.Ordering == "none" {
		return max(in.Concurrency, 1)
	}
	return 1
}

// moreCalls recommends key ordering (none stays none) with enough calls in
// flight per partition when an I/O-bound handler needs more partitions than
// an existing topic has: each partition's lane then runs concurrency calls,
// for different keys, where one waited on the other. Adding partitions to
// a live topic moves keys between them, and the count may be fixed; calls
// in flight need neither. The concurrency is rate × latency / (partitions ×
// utilisation), rounded up, with latency the time one call stream takes per
// record (the measured calls over PerPartition), capped at MaxConcurrency.
// It returns in with the per-partition and per-instance rates the new
// concurrency gives an I/O-bound handler, which waits rather than burns CPU;
// the plan's other steps size from them.
func moreCalls(in Input, u float64, p *Plan) Input {
	if !in.IOBound || in.PerPartition <= 0 || in.Partitions <= 0 || ceil(in.Rate/(in.PerPartition*u)) <= in.Partitions {
		return in
	}
	calls := measuredCalls(in)
	latency := float64(calls) / in.PerPartition
	c := ceil(in.Rate * latency / (float64(in.Partitions) * u))
	capped := c > MaxConcurrency
	c = min(c, MaxConcurrency)
	scale := float64(c) / float64(calls)
	out := in
	out.PerPartition *= scale
	out.PerInstance *= scale
	need := func(in Input) int { return max(ceil(in.Rate/(in.PerPartition*u)), ceil(in.Rate/(in.PerInstance*u))) }
	if !in.FixedPartitions && need(out) >= need(in) {
		// The instances bind, not the lanes (the rates given are not an
		// I/O-bound handler's): more calls save no partition.
		return in
	}
	p.Ordering, p.Concurrency = "key", c
	p.Latency = time.Duration(latency * float64(time.Second))
	if in.Ordering == "none" {
		p.Ordering = "none"
	}
	why := fmt.Sprintf("the handler waits about %s per record and %d partitions with %d call(s) in flight each handle about %s records/s",
		p.Latency.Round(time.Microsecond), in.Partitions, calls, trimFloat(math.Round(in.PerPartition*float64(in.Partitions))))
	p.Notes = append(p.Notes, fmt.Sprintf("%s: rather than adding partitions (which moves keys), run processor.ordering=%s with processor.concurrency=%d calls in flight per partition "+
		"(rate × latency / (partitions × %.0f%% utilisation), rounded up) and processor.max_in_flight to match; key ordering keeps each key's order, so it needs many distinct keys per partition (one hot key still runs one call at a time)",
		why, p.Ordering, c, u*100))
	if capped {
		p.Notes = append(p.Notes, fmt.Sprintf("the concurrency this needs is above %d, the most plan recommends: partitions are needed as well", MaxConcurrency))
	}
	p.Notes = append(p.Notes, fmt.Sprintf("the per-instance rate assumes the instance's CPU keeps up with %s× the calls in flight: re-measure with --processor.ordering %s --processor.concurrency %d",
		trimFloat(math.Round(scale*10)/10), p.Ordering, c))
	return out
}

// maxInFlight is the offset window to go with the recommended concurrency
// (0 without one): a partition's records of max(1 s, 10 × the per-record
// latency), at least 4 per call in flight, rounded up to a hundred. The
// window then never binds while records finish at the usual pace (each
// stays unfinished for about its sub-lane's current call and its own),
// and a record that stalls longer — a key retrying, a call timing out —
// pauses its partition after that much traffic instead of holding memory
// without limit; it is also what a crash redoes at most.
func maxInFlight(rate float64, p *Plan) int {
	if p.Concurrency == 0 {
		return 0
	}
	w := max(time.Second, 10*p.Latency)
	n := max(ceil(rate/float64(p.Partitions)*w.Seconds()), 4*p.Concurrency)
	return (n + 99) / 100 * 100
}

// unlessIOBound is the note's advice for fixed partitions a lane-bound
// handler needs more of: none when the plan already raised the calls in
// flight (and hit MaxConcurrency), or the instances, not the lanes, bind.
func unlessIOBound(in Input) string {
	if in.IOBound || in.PerPartition <= 0 {
		return ""
	}
	return "; more calls in flight per partition (processor.ordering key) help only a handler that waits on I/O, and this one's instance rate did not grow with its lanes " +
		"(it computes, or this machine's CPU bound the measurement: pass --io-bound when the handler waits on I/O)"
}

// IOBound reports whether a handler waits rather than computes, from two
// measurements of one instance: on several partitions (every lane busy) and
// on one. An I/O-bound handler's lanes overlap their waits, so the first
// is close to partitions times the second; a CPU-bound one's compete for the
// cores.
func IOBound(instance, partition Measurement) bool {
	return instance.Partitions > 1 && partition.Rate > 0 &&
		instance.Rate >= ioBoundScaling*float64(instance.Partitions)*partition.Rate
}

// capacity is what one instance owning k partitions handles.
func capacity(in Input, k int) float64 {
	if in.PerPartition <= 0 {
		return in.PerInstance
	}
	return math.Min(in.PerInstance, float64(k)*in.PerPartition)
}

// batching recommends the batch size, batch wait and linger. With a latency
// target, a full batch may take a quarter of it at the measured lane rate,
// batches are handed over without waiting, and linger costs at most a
// twentieth of it (never more than 5ms). Without one, the configured batch
// size stays and linger is 5ms, which lets the producer fill batches at
// high rates while adding little latency.
func batching(in Input, p *Plan) (int, time.Duration, time.Duration) {
	records, wait := in.BatchMaxRecords, in.BatchMaxWait
	if records <= 0 {
		records = 500
	}
	linger := 5 * time.Millisecond
	if in.P99 <= 0 {
		return records, wait, linger
	}
	lane := in.PerPartition
	if lane <= 0 {
		lane = in.PerInstance
	}
	fit := int(lane * (in.P99 / 4).Seconds())
	switch {
	case fit < 1:
		p.Notes = append(p.Notes, fmt.Sprintf("one record takes about %s to handle, more than a quarter of the %s target: the target is out of reach with this handler",
			time.Duration(float64(time.Second)/lane).Round(time.Microsecond), in.P99))
		records = 1
	default:
		records = min(fit, MaxBatchRecords)
	}
	if in.BatchMaxBytes > 0 && in.RecordSize > 0 {
		if byBytes := max(1, int(in.BatchMaxBytes/in.RecordSize)); byBytes < records {
			p.Notes = append(p.Notes, fmt.Sprintf("processor.batch.max_bytes caps batches at about %d records of %d bytes, below the %d the target allows", byBytes, in.RecordSize, records))
			records = byBytes
		}
	}
	if wait > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("processor.batch.max_wait=%s holds records back at low rates; with a latency target batches are handed over at once and still grow under load", wait))
	}
	linger = min((in.P99 / 20).Truncate(100*time.Microsecond), 5*time.Millisecond)
	return records, 0, linger
}

func ceil(f float64) int { return int(math.Ceil(f - 1e-9)) }

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%g", f)
}
