package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/veltrix/veltrix/internal/child"
)

// Outside is one subject measured from outside its process — a separate
// binary, as users run it — over Runs repetitions: Median holds the median
// of each field over Runs.
type Outside struct {
	Cluster string `json:"cluster"` // kafka, or embedded (`veltrix broker` in its own process)
	Size    int    `json:"record_bytes"`
	Payload string `json:"payload"` // random or compressible; generated at a steady rate
	// Offered is the steady rate the subject was fed, events/s; 0 for a
	// backlog or a producer.
	Offered float64      `json:"offered_per_s,omitempty"`
	Records int          `json:"records"`
	Subject string       `json:"subject"`
	Median  OutsideRun   `json:"median"`
	Runs    []OutsideRun `json:"runs"`
}

// OutsideRun is one run of a subject in its own process. The rate and the
// windowed CPU cover the timed window: for a consumer from the first
// observation of its group join done (every partition assigned) to the
// first observation of every record handled, so the first fetch is in it
// and start-up and the join are not; for a producer from the first
// observation of records in the topic to the first of all of them.
// StartSeconds reports what comes before the window.
type OutsideRun struct {
	Rate float64 `json:"records_per_s"`
	// CPUPerM is the process's user+system CPU-seconds (/proc/<pid>/stat)
	// in the timed window per million records in it, net of
	// ObserveCPUPerM: what the harness's observations of a consumer cost
	// it (the observations in the window times one's cost, measured after
	// the drain). Producers are observed at the broker, at no cost to them.
	CPUPerM        float64 `json:"cpu_s_per_m"`
	ObserveCPUPerM float64 `json:"observe_cpu_s_per_m,omitempty"`
	// ProcessCPUPerM is the process's whole-life CPU (rusage: start-up,
	// join, shutdown and the harness's scrapes included) per million
	// records of the run.
	ProcessCPUPerM float64 `json:"process_cpu_s_per_m"`
	// BrokerCPUPerM is the broker process's CPU in the window per million
	// records, 0 when its pid is unknown. The real broker is shared, so
	// other work on it counts too.
	BrokerCPUPerM float64 `json:"broker_cpu_s_per_m,omitempty"`
	PeakMiB       float64 `json:"peak_rss_mib"` // VmHWM
	// StartSeconds is from starting the process to the window's start:
	// start-up, connecting and the group join (consumers), or the first
	// acknowledgement (producers).
	StartSeconds float64 `json:"start_s"`
	// FetchAmp is the bytes the consumer fetched and decoded (uncompressed
	// batch bytes) divided by the bytes of the records it handled: 1 when
	// every record is fetched once.
	FetchAmp float64 `json:"fetch_amplification,omitempty"`
	Measured int64   `json:"measured_records"` // records in the timed window
	Samples  int     `json:"samples"`          // observations in the window
	Load1    float64 `json:"load1"`            // 1-minute load average at the end of the run
}

// sample is one observation of a subject's progress.
type sample struct {
	at        time.Time
	records   int64
	fetched   float64
	cpu       time.Duration // the subject's, all threads
	brokerCPU time.Duration
	started   bool
}

// progress is what a subject has done so far.
type progress struct {
	records int64   // handled (or written)
	fetched float64 // batch bytes fetched
	started bool    // the window may start: joined (or writing)
}

// progressFn observes a subject's progress.
type progressFn func(ctx context.Context) (progress, error)

// Observation cadence: before the first records every preFirst; after, a
// quarter of the estimated time left, within [minPoll, maxPoll], so the
// window's end is seen within a few milliseconds while a drain of seconds
// is observed a few dozen times (each scrape of veltrix's /metrics costs
// it about 1.5 ms of CPU).
// While nothing moves between two observations (a tail where the last
// records come late) the interval doubles, up to stallPoll, so a stall is
// not observed hundreds of times.
const (
	preFirst  = 20 * time.Millisecond
	minPoll   = 2 * time.Millisecond
	maxPoll   = 200 * time.Millisecond
	stallPoll = 20 * time.Millisecond
)

// watch observes p until progress reports n records, and returns the first
// observation that started and the first with all n. When the process
// exits on its own (a producer that is done), one last observation is taken
// and its CPU is the process's whole-life CPU.
func watch(ctx context.Context, p *child.Process, brokerPID int, n int64, progress progressFn, timeout time.Duration) (first, last sample, samples int, err error) {
	deadline := time.Now().Add(timeout)
	var prevErr error
	started := false
	wait, prevRecords := preFirst, int64(-1)
	for {
		exited := p.Exited()
		s, err := observe(ctx, p, brokerPID, progress)
		switch {
		case err == nil:
			if !started && s.started {
				first, started = s, true
			}
			if started {
				samples++
			}
			if s.records >= n {
				if first.records >= n {
					return first, s, samples, fmt.Errorf("all %d records were done by the window's first observation: too few to time, raise the scale", n)
				}
				return first, s, samples, nil
			}
		case ctx.Err() != nil:
			return first, last, samples, ctx.Err()
		default:
			prevErr = err // a scrape can fail while the process starts; give up at the deadline
		}
		if exited {
			return first, last, samples, fmt.Errorf("%s exited after %d of %d records (%v): %s", p.Name(), s.records, n, prevErr, p.Tail(5))
		}
		if time.Now().After(deadline) {
			return first, last, samples, fmt.Errorf("%d of %d records after %s (last error %v): %s", s.records, n, timeout, prevErr, p.Tail(5))
		}
		if started {
			next := nextPoll(first, s, n)
			if err == nil && s.records == prevRecords {
				next = max(next, min(2*wait, stallPoll))
			}
			wait = next
		}
		if err == nil {
			prevRecords = s.records
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
}

func observe(ctx context.Context, p *child.Process, brokerPID int, progress progressFn) (sample, error) {
	before := time.Now()
	pr, err := progress(ctx)
	after := time.Now()
	if err != nil {
		return sample{}, err
	}
	s := sample{at: before.Add(after.Sub(before) / 2), records: pr.records, fetched: pr.fetched, started: pr.started}
	// Whole-life CPU once the process has exited (a producer that is done).
	if s.cpu, err = p.CPU(); err != nil {
		return sample{}, err
	}
	if brokerPID > 0 {
		s.brokerCPU, _ = child.ReadCPU(brokerPID)
	}
	return s, nil
}

func nextPoll(first, cur sample, n int64) time.Duration {
	done, took := cur.records-first.records, cur.at.Sub(first.at)
	if done <= 0 || took <= 0 {
		return minPoll * 2
	}
	left := time.Duration(float64(n-cur.records) / float64(done) * float64(took))
	return min(max(left/4, minPoll), maxPoll)
}

// window turns a run's first and last observations into its rate, CPU
// and fetch amplification. batchBytes is the backlog's uncompressed batch
// bytes (0: no amplification).
func window(first, last sample, n int64, batchBytes int64) (OutsideRun, error) {
	measured := n - first.records
	took := last.at.Sub(first.at)
	if measured <= 0 || took <= 0 {
		return OutsideRun{}, fmt.Errorf("an empty timed window (%d records, %s)", measured, took)
	}
	r := OutsideRun{
		Rate:     float64(measured) / took.Seconds(),
		CPUPerM:  (last.cpu - first.cpu).Seconds() / float64(measured) * 1e6,
		Measured: measured,
	}
	if last.brokerCPU > 0 {
		r.BrokerCPUPerM = (last.brokerCPU - first.brokerCPU).Seconds() / float64(measured) * 1e6
	}
	if batchBytes > 0 && last.records > 0 {
		r.FetchAmp = last.fetched / (float64(batchBytes) * float64(min(last.records, n)) / float64(n))
	}
	return r, nil
}

// medianRun is each field's median over runs.
func medianRun(runs []OutsideRun) OutsideRun {
	f := func(get func(OutsideRun) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = get(r)
		}
		return median(xs)
	}
	return OutsideRun{
		Rate:           f(func(r OutsideRun) float64 { return r.Rate }),
		CPUPerM:        f(func(r OutsideRun) float64 { return r.CPUPerM }),
		ObserveCPUPerM: f(func(r OutsideRun) float64 { return r.ObserveCPUPerM }),
		ProcessCPUPerM: f(func(r OutsideRun) float64 { return r.ProcessCPUPerM }),
		BrokerCPUPerM:  f(func(r OutsideRun) float64 { return r.BrokerCPUPerM }),
		PeakMiB:        f(func(r OutsideRun) float64 { return r.PeakMiB }),
		StartSeconds:   f(func(r OutsideRun) float64 { return r.StartSeconds }),
		FetchAmp:       f(func(r OutsideRun) float64 { return r.FetchAmp }),
		Measured:       int64(f(func(r OutsideRun) float64 { return float64(r.Measured) })),
		Samples:        int(f(func(r OutsideRun) float64 { return float64(r.Samples) })),
		Load1:          f(func(r OutsideRun) float64 { return r.Load1 }),
	}
}

// load1 is the 1-minute load average.
func load1() float64 {
	var l float64
	_, _ = fmt.Sscan(loadavg(), &l)
	return l
}
