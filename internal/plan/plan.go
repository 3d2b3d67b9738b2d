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

	// A lane handles one partition in order, so the partitions bound the
	// rate as much as the instances do.
	minParts := 1
	if in.PerPartition > 0 {
		minParts = ceil(in.Rate / (in.PerPartition * u))
	}
	minInst := ceil(in.Rate / (in.PerInstance * u))
	need := max(minParts, minInst)
	switch {
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
	// capacity. n = Partitions always fits, since Partitions >= minInst.
	for n := minInst; n <= p.Partitions; n++ {
		k := ceil(float64(p.Partitions) / float64(n)) // the busiest member's partitions
		load := in.Rate * float64(k) / float64(p.Partitions)
		if load <= u*capacity(in, k)*(1+1e-9) {
			p.Instances = n
			break
		}
	}
	if p.Instances == 0 { // unreachable; kept so a bug shows as a plan of all partitions
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

	p.BatchMaxRecords, p.BatchMaxWait, p.Linger = batching(in, &p)

	p.Changes = []string{
		fmt.Sprintf("topic.partitions=%d", p.Partitions),
		fmt.Sprintf("deploy.instances=%d", p.Instances),
		fmt.Sprintf("deploy.max_instances=%d", p.MaxInstances),
		fmt.Sprintf("deploy.expected_rate=%s", trimFloat(in.Rate)),
		fmt.Sprintf("processor.batch.max_records=%d", p.BatchMaxRecords),
		fmt.Sprintf("processor.batch.max_wait=%s", p.BatchMaxWait),
		fmt.Sprintf("producer.linger=%s", p.Linger),
	}
	if in.P99 > 0 {
		p.Changes = append(p.Changes, fmt.Sprintf("deploy.p99_target=%s", in.P99))
	}
	return p, nil
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
