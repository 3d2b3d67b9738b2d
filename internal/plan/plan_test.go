package plan

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCompute(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		in                    Input
		partitions, instances int
		batch                 int
		linger                time.Duration
		note                  string // a part of some note, "" for none required
	}{
		{"instance-bound, new topic", Input{Rate: 10000, PerInstance: 5000, BatchMaxRecords: 500},
			6, 3, 500, 5 * time.Millisecond, "create the topic with 6 partitions"},
		{"lane-bound handler needs partitions, not instances", Input{Rate: 10000, PerInstance: 50000, PerPartition: 1000, BatchMaxRecords: 500},
			15, 1, 500, 5 * time.Millisecond, "the rate needs 1 instance(s) and 15 partition(s)"},
		{"too few partitions: more partitions, never more instances", Input{Rate: 5600, PerInstance: 1000, Partitions: 4, BatchMaxRecords: 500},
			16, 8, 500, 5 * time.Millisecond, "the topic has 4 partitions but the rate needs at least 8"},
		{"enough partitions already", Input{Rate: 1000, PerInstance: 5000, Partitions: 24, BatchMaxRecords: 200},
			24, 1, 200, 5 * time.Millisecond, ""},
		{"latency target sizes batches and linger", Input{Rate: 20000, P99: 50 * time.Millisecond, PerInstance: 100000, PerPartition: 20000, Partitions: 6, BatchMaxRecords: 500, BatchMaxWait: 20 * time.Millisecond},
			6, 1, 250, 2500 * time.Microsecond, "holds records back"},
		{"batch bytes bind", Input{Rate: 20000, P99: 50 * time.Millisecond, PerInstance: 100000, PerPartition: 20000, Partitions: 6, BatchMaxBytes: 100 << 10, RecordSize: 1 << 10},
			6, 1, 100, 2500 * time.Microsecond, "caps batches at about 100 records"},
		{"unreachable target", Input{Rate: 10, P99: 100 * time.Millisecond, PerInstance: 100, PerPartition: 10, Partitions: 6},
			6, 1, 1, 5 * time.Millisecond, "out of reach"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compute(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Partitions != tc.partitions || p.Instances != tc.instances || p.BatchMaxRecords != tc.batch || p.Linger != tc.linger {
				t.Errorf("got %d partitions, %d instances, batch %d, linger %s; want %d, %d, %d, %s",
					p.Partitions, p.Instances, p.BatchMaxRecords, p.Linger, tc.partitions, tc.instances, tc.batch, tc.linger)
			}
			if tc.note != "" && !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("no note with %q in %q", tc.note, p.Notes)
			}
			if p.MaxInstances != p.Partitions || p.Load > p.Utilisation+1e-9 {
				t.Errorf("max instances %d, load %.3f", p.MaxInstances, p.Load)
			}
			if !slices.Contains(p.Changes, "deploy.instances="+strconv.Itoa(p.Instances)) {
				t.Errorf("changes %q lack the instances", p.Changes)
			}
		})
	}
}

func TestComputeRejects(t *testing.T) {
	for _, in := range []Input{{Rate: 0, PerInstance: 1}, {Rate: 1, PerInstance: 0}, {Rate: -5, PerInstance: 1}} {
		if _, err := Compute(in); err == nil {
			t.Errorf("Compute(%+v) succeeded", in)
		}
	}
}

// TestComputeInvariants checks, over random inputs, that a plan never has
// more instances than partitions, never shrinks the topic, and keeps its
// busiest instance within the utilisation it assumes (at the rates its
// concurrency gives, when it recommends one: only for an I/O-bound
// handler, within MaxConcurrency, adding partitions only beyond it).
func TestComputeInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		in := Input{
			Rate:        float64(1 + r.IntN(2_000_000)),
			PerInstance: float64(1 + r.IntN(500_000)),
			Partitions:  r.IntN(64),
		}
		if r.IntN(2) == 0 {
			in.PerPartition = float64(1 + r.IntN(100_000))
		}
		if r.IntN(2) == 0 {
			// An I/O-bound handler's instance handles about its lanes'
			// sum (IOBound).
			in.IOBound = true
			in.PerPartition = float64(1 + r.IntN(100_000))
			in.PerInstance = in.PerPartition * float64(1+r.IntN(8))
		}
		p, err := Compute(in)
		if err != nil {
			t.Fatal(err)
		}
		// With a concurrency, an I/O-bound handler's rates scale with it.
		eff := in
		if p.Concurrency > 0 {
			eff.PerPartition *= float64(p.Concurrency)
			eff.PerInstance *= float64(p.Concurrency)
			if !in.IOBound || p.Concurrency > MaxConcurrency || p.Partitions != in.Partitions && p.Concurrency < MaxConcurrency {
				t.Fatalf("bad concurrency for %+v: %d on %d partitions", in, p.Concurrency, p.Partitions)
			}
		}
		k := (p.Partitions + p.Instances - 1) / p.Instances
		busiest := in.Rate * float64(k) / float64(p.Partitions)
		if p.Instances > p.Partitions || p.Partitions < in.Partitions || busiest > DefaultUtilisation*capacity(eff, k)*(1+1e-6) {
			t.Fatalf("bad plan for %+v: %d instances, %d partitions, busiest %.0f/s of %.0f", in, p.Instances, p.Partitions, busiest, capacity(eff, k))
		}
	}
}

// TestPlanSettings checks the pasteable forms of a plan: a YAML file whose
// sections nest and are not repeated, and flags.
func TestPlanSettings(t *testing.T) {
	p := Plan{Rate: 5600, P99: 50 * time.Millisecond, Changes: []string{
		"topic.partitions=16", "deploy.instances=8", "deploy.max_instances=16",
		"processor.batch.max_records=250", "processor.batch.max_wait=0s", "producer.linger=2.5ms", "deploy.p99_target=50ms",
	}}
	want := `# veltrix plan: 5600 events/s at p99 <= 50ms
topic:
  partitions: 16
deploy:
  instances: 8
  max_instances: 16
  p99_target: 50ms
processor:
  batch:
    max_records: 250
    max_wait: 0s
producer:
  linger: 2.5ms
`
	if got := p.YAML(); got != want {
		t.Errorf("YAML:\n%s\nwant:\n%s", got, want)
	}
	if got, want := p.Flags(), "--topic.partitions=16 --deploy.instances=8 --deploy.max_instances=16 --processor.batch.max_records=250 --processor.batch.max_wait=0s --producer.linger=2.5ms --deploy.p99_target=50ms"; got != want {
		t.Errorf("Flags: %s\nwant: %s", got, want)
	}
}

// TestComputeConcurrency checks that an I/O-bound handler on a topic with
// too few partitions gets key ordering with a concurrency, not more
// partitions: 5 ms per record on 6 partitions is 1,200 records/s with one
// call at a time per partition, and 20,000/s needs ceil(20000 × 0.005 /
// (6 × 0.7)) = 24 calls in flight per partition.
func TestComputeConcurrency(t *testing.T) {
	io := Input{Rate: 20000, PerInstance: 1200, PerPartition: 200, Partitions: 6, BatchMaxRecords: 500, IOBound: true}
	for _, tc := range []struct {
		name                  string
		in                    func(Input) Input
		partitions, instances int
		ordering              string
		concurrency, inFlight int
		note                  string
	}{
		{"fixed partitions", func(in Input) Input { in.FixedPartitions = true; return in },
			6, 1, "key", 24, 3400, "rather than adding partitions"},
		{"too few partitions, not fixed: concurrency before partitions", func(in Input) Input { return in },
			6, 1, "key", 24, 3400, "processor.concurrency=24"},
		{"measured in key ordering already: raised from the calls measured", func(in Input) Input {
			in.Ordering, in.Concurrency, in.PerPartition, in.PerInstance = "key", 8, 1600, 9600
			return in
		}, 6, 1, "key", 24, 3400, "re-measure"},
		{"none ordering stays none", func(in Input) Input { in.Ordering, in.Concurrency = "none", 1; return in },
			6, 1, "none", 24, 3400, "processor.ordering=none"},
		{"a slow handler: the window spans 10 × its latency (2 s of 100 records/s)", func(in Input) Input {
			in.Rate, in.PerPartition, in.PerInstance = 600, 5, 30 // 200 ms per record
			return in
		}, 6, 1, "key", 29, 200, "200ms per record"},
		{"beyond the cap: partitions as well", func(in Input) Input { in.Rate = 2_000_000; return in },
			56, 10, "key", MaxConcurrency, 35800, "partitions are needed as well"},
		{"beyond the cap with fixed partitions: out of reach", func(in Input) Input { in.Rate, in.FixedPartitions = 2_000_000, true; return in },
			6, 6, "key", MaxConcurrency, 333400, "out of reach"},
		{"CPU-bound with fixed partitions: no concurrency", func(in Input) Input { in.IOBound, in.FixedPartitions = false, true; return in },
			6, 6, "", 0, 0, "help only a handler that waits on I/O"},
		{"CPU-bound, not fixed: more partitions", func(in Input) Input { in.IOBound = false; return in },
			143, 24, "", 0, 0, "add partitions"},
		{"new topic: partitions", func(in Input) Input { in.Partitions = 0; return in },
			143, 24, "", 0, 0, "create the topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in(io)
			p, err := Compute(in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Partitions != tc.partitions || p.Instances != tc.instances || p.Ordering != tc.ordering || p.Concurrency != tc.concurrency || p.MaxInFlight != tc.inFlight {
				t.Errorf("got %d partitions, %d instances, ordering %q, concurrency %d, max_in_flight %d; want %d, %d, %q, %d, %d\nnotes: %q",
					p.Partitions, p.Instances, p.Ordering, p.Concurrency, p.MaxInFlight, tc.partitions, tc.instances, tc.ordering, tc.concurrency, tc.inFlight, p.Notes)
			}
			if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) && !slices.ContainsFunc(p.Changes, func(c string) bool { return strings.Contains(c, tc.note) }) {
				t.Errorf("no note or change with %q in %q %q", tc.note, p.Notes, p.Changes)
			}
			want := tc.concurrency > 0
			if got := slices.Contains(p.Changes, "processor.concurrency="+strconv.Itoa(tc.concurrency)); got != want {
				t.Errorf("changes %q: concurrency %v, want %v", p.Changes, got, want)
			}
		})
	}
}

func TestIOBound(t *testing.T) {
	for _, tc := range []struct {
		inst, part Measurement
		want       bool
	}{
		{Measurement{Partitions: 6, Rate: 1190}, Measurement{Partitions: 1, Rate: 200}, true},       // 5 ms per record: the lanes' waits overlap
		{Measurement{Partitions: 6, Rate: 400000}, Measurement{Partitions: 1, Rate: 250000}, false}, // noop on 2 cores
		{Measurement{Partitions: 1, Rate: 200}, Measurement{Partitions: 1, Rate: 200}, false},       // one lane tells nothing
	} {
		if got := IOBound(tc.inst, tc.part); got != tc.want {
			t.Errorf("IOBound(%+v, %+v) = %v, want %v", tc.inst, tc.part, got, tc.want)
		}
	}
}
