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
// busiest instance within the utilisation it assumes.
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
		p, err := Compute(in)
		if err != nil {
			t.Fatal(err)
		}
		k := (p.Partitions + p.Instances - 1) / p.Instances
		busiest := in.Rate * float64(k) / float64(p.Partitions)
		if p.Instances > p.Partitions || p.Partitions < in.Partitions || busiest > DefaultUtilisation*capacity(in, k)*(1+1e-6) {
			t.Fatalf("bad plan for %+v: %d instances, %d partitions, busiest %.0f/s of %.0f", in, p.Instances, p.Partitions, busiest, capacity(in, k))
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
