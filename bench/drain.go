package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/veltrix/veltrix/internal/child"
)

// Subjects of the drain measurement, each a separate process.
const (
	PlainConsumeBinary    = "franz-go loop"
	VeltrixDefault        = "veltrix process, default"
	VeltrixHighThroughput = "veltrix process, high-throughput"
	VeltrixLowLatency     = "veltrix process, low-latency"
)

// drainSubject is a consumer binary and how to watch it: the output line
// naming its metrics URL, and there the gauge of partitions assigned and
// the counters of records handled and batch bytes fetched.
type drainSubject struct {
	name string
	// command returns the process to start; a profile path, when not
	// empty, asks it for a CPU profile there.
	command                      func(c cluster, topic, group, profile string) (bin string, args []string)
	urlLine                      *regexp.Regexp
	assigned, processed, fetched string
}

func drainSubjects(o *Options) []drainSubject {
	plain := drainSubject{
		name: PlainConsumeBinary,
		command: func(c cluster, topic, group, profile string) (string, []string) {
			args := []string{"--brokers", strings.Join(c.brokers, ","), "--topic", topic, "--group", group}
			if profile != "" {
				args = append(args, "--cpuprofile", profile)
			}
			return o.PlainConsume, args
		},
		urlLine:   regexp.MustCompile(`stats at (http://\S+)`),
		assigned:  "plainconsume_partitions_assigned",
		processed: "plainconsume_processed_records_total",
		fetched:   "plainconsume_fetch_bytes_total",
	}
	veltrix := func(bin, name, config string) drainSubject {
		return drainSubject{
			name: name,
			command: func(c cluster, topic, group, profile string) (string, []string) {
				var args []string
				if config != "" {
					args = append(args, "--config", filepath.Join(o.Root, "configs", config+".yaml"))
				}
				if profile != "" && bin != o.Baseline {
					args = append(args, "--cpu-profile", profile)
				}
				return bin, append([]string{"process"}, append(args, "--brokers", strings.Join(c.brokers, ","),
					"--topic", topic, "--group", group, "--handler", "noop", "--metrics-addr", "127.0.0.1:0",
					"--kafka.client_id", "vbench-drain")...)
			},
			urlLine:   regexp.MustCompile(`metrics at (http://\S+/metrics)`),
			assigned:  "veltrix_partitions_assigned",
			processed: "veltrix_processed_records_total",
			fetched:   "kafka_client_fetch_bytes_total",
		}
	}
	subjects := []drainSubject{plain}
	for _, v := range veltrixBinaries(o) {
		subjects = append(subjects, veltrix(v.bin, VeltrixDefault+v.suffix, ""),
			veltrix(v.bin, VeltrixHighThroughput+v.suffix, "high-throughput"), veltrix(v.bin, VeltrixLowLatency+v.suffix, "low-latency"))
	}
	return subjects
}

// baselineSuffix marks the subjects run with Options.Baseline.
const baselineSuffix = " (baseline)"

// veltrixBinaries are the veltrix binaries measured: Options.Veltrix and,
// when set, Options.Baseline, whose subjects' names end in baselineSuffix.
func veltrixBinaries(o *Options) []struct{ bin, suffix string } {
	out := []struct{ bin, suffix string }{{o.Veltrix, ""}}
	if o.Baseline != "" {
		out = append(out, struct{ bin, suffix string }{o.Baseline, baselineSuffix})
	}
	return out
}

// drainAll fills each backlog of the scale on c and drains it with every
// subject, Runs times, interleaved.
func drainAll(ctx context.Context, o *Options, res *Results, c cluster) error {
	var errs []error
	subjects := drainSubjects(o)
	for _, b := range o.Scale.Drain {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		topic := uniqueName(fmt.Sprintf("bench-drain-%d-%s", b.Size, b.Payload()))
		o.logf("%-8s drain: filling %s with %s", c.name, topic, b)
		info, err := fillBacklog(ctx, c, topic, b)
		if err != nil {
			deleteTopics(c.brokers, topic)
			errs = append(errs, fmt.Errorf("%s drain backlog %s: %w", c.name, b, err))
			continue
		}
		res.Backlogs = append(res.Backlogs, info)
		o.settleDisk(fmt.Sprintf("%s drain %s", c.name, b))
		o.logf("%-8s drain: %s filled in %.1fs: %.1f MB of batches, %.1f MB on the wire", c.name, b, info.FillSeconds,
			float64(info.BatchBytes)/1e6, float64(info.WireBytes)/1e6)
		runs := map[string][]OutsideRun{}
		for run := 1; run <= o.Runs; run++ {
			for _, s := range subjects {
				if ctx.Err() != nil {
					break
				}
				began := time.Now()
				r, err := drainRun(ctx, c, info, s, o.profilePath(c.name, b.String(), s.name, run))
				if err != nil {
					errs = append(errs, fmt.Errorf("%s drain %s %s run %d: %w", c.name, b, s.name, run, err))
					continue
				}
				o.logf("%-8s drain %-26s %-33s run %d: %9.0f records/s, %.2f CPU-s/M (process %.2f, broker %.2f), fetched ÷ processed %.2f, start %.2fs, peak %.0f MiB, load %.2f; %.1fs in all",
					c.name, b, s.name, run, r.Rate, r.CPUPerM, r.ProcessCPUPerM, r.BrokerCPUPerM, r.FetchAmp, r.StartSeconds, r.PeakMiB, r.Load1, time.Since(began).Seconds())
				runs[s.name] = append(runs[s.name], r)
			}
		}
		deleteTopics(c.brokers, topic)
		for _, s := range subjects {
			if len(runs[s.name]) > 0 {
				res.Drain = append(res.Drain, Outside{Cluster: c.name, Size: b.Size, Payload: b.Payload(), Records: b.Records,
					Subject: s.name, Median: medianRun(runs[s.name]), Runs: runs[s.name]})
			}
		}
	}
	return errors.Join(errs...)
}

// drainRun starts the subject in a fresh group on the backlog and watches
// its metrics from its group join until it has handled every record.
func drainRun(ctx context.Context, c cluster, b BacklogInfo, s drainSubject, profile string) (_ OutsideRun, err error) {
	p, observe, err := startWatched(ctx, c, s, b.topic, uniqueName("bench-drain"), profile)
	if err != nil {
		return OutsideRun{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_, _ = stop(p, 5*time.Second)
		}
	}()
	n := int64(b.Records)
	first, last, samples, err := watch(ctx, p, c.pid, n, observe, consumeTimeout)
	if err != nil {
		return OutsideRun{}, err
	}
	r, err := window(first, last, n, b.BatchBytes)
	if err != nil {
		return OutsideRun{}, err
	}
	r.Samples, r.Load1 = samples, load1()
	r.StartSeconds = first.at.Sub(p.Started()).Seconds()
	r.PeakMiB = mib(p.PeakRSS())
	// The window's observations cost the subject CPU too (a scrape of
	// veltrix's /metrics about a millisecond, of the loop's counters next
	// to nothing): measure one now, idle, and take the window's share out.
	per, err := observeCost(ctx, p, observe)
	if err != nil {
		return OutsideRun{}, err
	}
	r.ObserveCPUPerM = per.Seconds() * float64(samples-1) / float64(r.Measured) * 1e6
	r.CPUPerM = max(r.CPUPerM-r.ObserveCPUPerM, 0)
	stopped = true
	life, err := stop(p, 30*time.Second)
	if err != nil {
		return OutsideRun{}, err
	}
	r.ProcessCPUPerM = life.Seconds() / float64(n) * 1e6
	return r, nil
}

// startWatched starts the subject in group on topic and returns it with
// an observation of its progress through its metrics endpoint. The caller
// stops the process.
func startWatched(ctx context.Context, c cluster, s drainSubject, topic, group, profile string) (*child.Process, progressFn, error) {
	bin, args := s.command(c, topic, group, profile)
	p, err := startProc(s.name, bin, args...)
	if err != nil {
		return nil, nil, err
	}
	url, err := waitLine(ctx, p, s.urlLine, 30*time.Second)
	if err != nil {
		_, _ = stop(p, 5*time.Second)
		return nil, nil, err
	}
	sc := newScraper(url)
	return p, func(ctx context.Context) (progress, error) {
		v, err := sc.sums(ctx, topic, s.assigned, s.processed, s.fetched)
		if err != nil {
			return progress{}, err
		}
		return progress{records: int64(v[s.processed]), fetched: v[s.fetched], started: v[s.assigned] >= partitions}, nil
	}, nil
}

// profilePath is where a run's subject writes its CPU profile, or "" when
// Options.Profiles is not set.
func (o *Options) profilePath(cluster, workload, subject string, run int) string {
	if o.Profiles == "" {
		return ""
	}
	name := strings.Join([]string{cluster, workload, subject, "run" + strconv.Itoa(run)}, "-")
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '_'
	}, name)
	return filepath.Join(o.Profiles, name+".pprof")
}

// observeScrapes is how many observations observeCost times.
const observeScrapes = 50

// observeCost is the subject's CPU per observation: observeScrapes of them
// back to back, timed by the subject's CPU (10 ms ticks, so ±10 ms over
// all of them).
func observeCost(ctx context.Context, p *child.Process, observe progressFn) (time.Duration, error) {
	before, err := p.CPU()
	if err != nil {
		return 0, err
	}
	for range observeScrapes {
		if _, err := observe(ctx); err != nil {
			return 0, fmt.Errorf("timing observations: %w", err)
		}
	}
	after, err := p.CPU()
	if err != nil {
		return 0, err
	}
	return (after - before) / observeScrapes, nil
}

// startBroker runs the embedded cluster as `veltrix broker` in its own
// process, so that it does not share the harness's address space and
// scheduler with the measurements, and returns it as a cluster.
func startBroker(ctx context.Context, veltrix string) (cluster, *child.Process, error) {
	if veltrix == "" {
		return cluster{}, nil, errors.New("no veltrix binary (Options.Veltrix)")
	}
	p, err := startProc("veltrix broker", veltrix, "broker", "--port", "0", "--partitions", strconv.Itoa(partitions),
		"--topic", uniqueName("bench-seed"))
	if err != nil {
		return cluster{}, nil, err
	}
	addr, err := waitLine(ctx, p, regexp.MustCompile(`listening on (\S+)`), 30*time.Second)
	if err != nil {
		_, _ = stop(p, 5*time.Second)
		return cluster{}, nil, err
	}
	return cluster{name: "embedded", brokers: strings.Split(addr, ","), pid: p.Pid()}, p, nil
}

// outsideAll runs the measurements of binaries in their own processes —
// drain, steady rate and produce — on the real broker and, with Options.Embedded, on
// `veltrix broker` in its own process.
func outsideAll(ctx context.Context, o *Options, res *Results, real cluster) error {
	if o.Veltrix == "" {
		return errors.New("no veltrix binary (Options.Veltrix)")
	}
	if o.PlainConsume == "" || o.PlainProduce == "" {
		dir, cleanup, err := buildPlain(ctx, o.Root)
		if err != nil {
			return err
		}
		defer cleanup()
		if o.PlainConsume == "" {
			o.PlainConsume = filepath.Join(dir, "plainconsume")
		}
		if o.PlainProduce == "" {
			o.PlainProduce = filepath.Join(dir, "plainproduce")
		}
	}
	real.pid = kafkaPID()
	errs := []error{outsideOn(ctx, o, res, real)}
	if o.Embedded {
		ec, bp, err := startBroker(ctx, o.Veltrix)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("starting veltrix broker: %w", err))...)
		}
		errs = append(errs, outsideOn(ctx, o, res, ec))
		if _, err := stop(bp, 30*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func outsideOn(ctx context.Context, o *Options, res *Results, c cluster) error {
	var errs []error
	if !o.skip("drain") {
		errs = append(errs, drainAll(ctx, o, res, c))
	}
	if !o.skip("steady") {
		errs = append(errs, steadyAll(ctx, o, res, c))
	}
	if !o.skip("produce-binary") {
		errs = append(errs, produceBinaries(ctx, o, res, c))
	}
	return errors.Join(errs...)
}
