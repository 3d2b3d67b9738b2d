package bench

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/producer"
)

// OrderingScale sizes the ordering measurement (issue 15): `veltrix
// process` in partition ordering against key ordering on a backlog of
// keyed records, with a handler that waits per record (I/O-bound) and
// with the noop handler (CPU-bound). The zero value skips it.
type OrderingScale struct {
	// Records is the backlog: keyed 100-byte generator events, written
	// uncompressed so that a fetch holds in memory what it carries on the
	// wire and peak RSS reflects the engine's bounds.
	Records int `json:"records"`
	// Keys is the generator's key cardinality.
	Keys int `json:"keys"`
	// Delay is the simulate handler's time per record.
	Delay time.Duration `json:"record_delay"`
	// Concurrency are the key-mode concurrencies measured with the waiting
	// handler.
	Concurrency []int `json:"concurrency"`
	// TightWindow, when above 0, adds a run at the highest concurrency
	// with processor.max_in_flight this low: what bounding the window
	// costs in throughput and saves in memory.
	TightWindow int `json:"tight_window,omitempty"`
	// Window is the aimed length of each waiting-handler run's timed
	// window: a run handles records for about this long at its ideal rate
	// (partitions × concurrency / Delay), at most the backlog.
	Window time.Duration `json:"window"`
	// NoopConcurrency are the key-mode concurrencies drained with the noop
	// handler, next to partition ordering; each drains the whole backlog.
	NoopConcurrency []int `json:"noop_concurrency"`
}

// fullOrdering is the ordering measurement of the full scale: a few
// minutes per cluster.
func fullOrdering() OrderingScale {
	return OrderingScale{Records: 1_000_000, Keys: 10_000, Delay: 5 * time.Millisecond,
		Concurrency: []int{8, 32, 128}, TightWindow: 500, Window: 8 * time.Second, NoopConcurrency: []int{32}}
}

// Ordering is one ordering subject's measurement on one cluster.
type Ordering struct {
	Cluster string `json:"cluster"`
	// Handler is "simulate" (waiting Delay per record) or "noop".
	Handler     string       `json:"handler"`
	Subject     string       `json:"subject"`
	Ordering    string       `json:"ordering"`
	Concurrency int          `json:"concurrency,omitempty"`
	MaxInFlight int          `json:"max_in_flight,omitempty"`
	Records     int          `json:"records"` // handled per run; the window starts at the join
	Median      OutsideRun   `json:"median"`
	Runs        []OutsideRun `json:"runs"`
}

// orderingSubject is one `veltrix process` configuration of the ordering
// measurement.
type orderingSubject struct {
	handler     string // simulate or noop
	ordering    string
	concurrency int
	maxInFlight int // 0: the default
	records     int
}

func (s orderingSubject) name() string {
	if s.ordering == "partition" {
		return "partition"
	}
	n := fmt.Sprintf("%s, concurrency %d", s.ordering, s.concurrency)
	if s.maxInFlight > 0 {
		n += fmt.Sprintf(", max_in_flight %d", s.maxInFlight)
	}
	return n
}

// batchStep is how far the processed counter of partition ordering jumps
// at once with a waiting handler: every partition's lane finishes a full
// batch (batch.max_records) at about the same moment. A waiting run's
// record count is a multiple of it, so its window ends just as a step
// lands, not somewhere within one.
func batchStep() int { return partitions * config.Default().Processor.Batch.MaxRecords }

// orderingSubjects lists what the scale measures, in run order.
func orderingSubjects(sc OrderingScale) []orderingSubject {
	waiting := func(ordering string, conc, mif int) orderingSubject {
		ideal := float64(partitions*conc) * sc.Window.Seconds() / sc.Delay.Seconds()
		step := batchStep()
		n := min((int(ideal)+step-1)/step*step, sc.Records)
		return orderingSubject{handler: "simulate", ordering: ordering, concurrency: conc, maxInFlight: mif, records: n}
	}
	out := []orderingSubject{waiting("partition", 1, 0)}
	for _, c := range sc.Concurrency {
		out = append(out, waiting("key", c, 0))
	}
	if sc.TightWindow > 0 && len(sc.Concurrency) > 0 {
		out = append(out, waiting("key", sc.Concurrency[len(sc.Concurrency)-1], sc.TightWindow))
	}
	out = append(out, orderingSubject{handler: "noop", ordering: "partition", concurrency: 1, records: sc.Records})
	for _, c := range sc.NoopConcurrency {
		out = append(out, orderingSubject{handler: "noop", ordering: "key", concurrency: c, records: sc.Records})
	}
	return out
}

// drainSubject runs s as `veltrix process`, watched as the drain
// measurement watches its subjects.
func (s orderingSubject) drainSubject(o *Options, delay time.Duration) drainSubject {
	return drainSubject{
		name: s.name(),
		command: func(c cluster, topic, group, profile string) (string, []string) {
			args := []string{"process", "--brokers", strings.Join(c.brokers, ","), "--topic", topic, "--group", group,
				"--metrics-addr", "127.0.0.1:0", "--kafka.client_id", "vbench-ordering", "--handler", s.handler,
				"--processor.ordering", s.ordering}
			if s.handler == "simulate" {
				args = append(args, "--handler.simulate.record_delay", delay.String())
			}
			if s.ordering != "partition" {
				args = append(args, "--processor.concurrency", strconv.Itoa(s.concurrency))
			}
			if s.maxInFlight > 0 {
				args = append(args, "--processor.max_in_flight", strconv.Itoa(s.maxInFlight))
			}
			if profile != "" {
				args = append(args, "--cpu-profile", profile)
			}
			return o.Veltrix, args
		},
		urlLine:   regexp.MustCompile(`metrics at (http://\S+/metrics)`),
		assigned:  "veltrix_partitions_assigned",
		processed: "veltrix_processed_records_total",
		fetched:   "kafka_client_fetch_bytes_total",
	}
}

// orderingAll runs the ordering measurement on the real broker and, with
// Options.Embedded, on `veltrix broker` in its own process.
func orderingAll(ctx context.Context, o *Options, res *Results, real cluster) error {
	if o.Veltrix == "" {
		return errors.New("no veltrix binary (Options.Veltrix)")
	}
	real.pid = kafkaPID()
	errs := []error{orderingOn(ctx, o, res, real)}
	if o.Embedded {
		ec, bp, err := startBroker(ctx, o.Veltrix)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("starting veltrix broker: %w", err))...)
		}
		errs = append(errs, orderingOn(ctx, o, res, ec))
		if _, err := stop(bp, 30*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// orderingOn fills one keyed backlog on c and runs every subject on it
// from the start in a fresh group, Runs times, interleaved. A waiting
// subject is stopped once it has handled its records, long before the
// backlog's end.
func orderingOn(ctx context.Context, o *Options, res *Results, c cluster) error {
	sc := o.Scale.Ordering
	topic := uniqueName("bench-ordering")
	defer deleteTopics(c.brokers, topic)
	o.logf("%-8s ordering: filling %s with %d keyed 100 B records (%d keys)", c.name, topic, sc.Records, sc.Keys)
	began := time.Now()
	if err := fillKeyed(ctx, c, topic, sc); err != nil {
		return fmt.Errorf("%s ordering backlog: %w", c.name, err)
	}
	// The backlog's batch bytes, so that a noop run, which drains it all,
	// reports what it fetched against what it handled: pausing drops
	// fetched data that is fetched again after the resume. (A waiting run
	// stops with its read-ahead fetched and unhandled, so its ratio says
	// little and is not shown.)
	batchBytes, _, err := sizeBacklog(ctx, c, topic, sc.Records)
	if err != nil {
		return fmt.Errorf("%s ordering backlog: %w", c.name, err)
	}
	o.logf("%-8s ordering: filled and sized in %.1fs: %.0f MB of batches", c.name, time.Since(began).Seconds(), float64(batchBytes)/1e6)
	subjects := orderingSubjects(sc)
	runs := make([][]OutsideRun, len(subjects))
	var errs []error
	for run := 1; run <= o.Runs; run++ {
		for i, s := range subjects {
			if ctx.Err() != nil {
				return errors.Join(append(errs, ctx.Err())...)
			}
			info := BacklogInfo{Cluster: c.name, Backlog: Backlog{Size: 100, Records: s.records}, topic: topic,
				BatchBytes: batchBytes * int64(s.records) / int64(sc.Records)}
			t0 := time.Now()
			r, err := drainRun(ctx, c, info, s.drainSubject(o, sc.Delay), "")
			if err != nil {
				errs = append(errs, fmt.Errorf("%s ordering %s %s run %d: %w", c.name, s.handler, s.name(), run, err))
				continue
			}
			o.logf("%-8s ordering %-8s %-36s run %d: %6d records, %8.0f records/s, %.2f CPU-s/M, peak %.0f MiB, fetched ÷ processed %.2f, join %.2fs, load %.2f; %.1fs in all",
				c.name, s.handler, s.name(), run, s.records, r.Rate, r.CPUPerM, r.PeakMiB, r.FetchAmp, r.StartSeconds, r.Load1, time.Since(t0).Seconds())
			runs[i] = append(runs[i], r)
		}
	}
	for i, s := range subjects {
		if len(runs[i]) == 0 {
			continue
		}
		mif := s.maxInFlight
		if mif == 0 && s.ordering != "partition" {
			mif = config.Default().Processor.MaxInFlight
		}
		res.Ordering = append(res.Ordering, Ordering{Cluster: c.name, Handler: s.handler, Subject: s.name(), Ordering: s.ordering,
			Concurrency: s.concurrency, MaxInFlight: mif, Records: s.records, Median: medianRun(runs[i]), Runs: runs[i]})
	}
	return errors.Join(errs...)
}

// fillKeyed creates topic and writes the backlog with veltrix's generator
// (the events of `veltrix produce --keys N`), uncompressed.
func fillKeyed(ctx context.Context, c cluster, topic string, sc OrderingScale) error {
	if err := createTopic(ctx, c.brokers, topic); err != nil {
		return err
	}
	pc, gc := config.Default().Producer, config.Default().Generate
	pc.Compression = "none"
	gc.Rate, gc.Count, gc.Size, gc.Keys, gc.ID = 0, sc.Records, 100, sc.Keys, "vbench-ordering"
	cl, err := kafka.Connect(ctx, c.kafkaConfig("vbench-ordering-fill"), producer.ClientOptions(pc)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := generate.NewGenerator(cl, topic, gc, generate.Options{FlushTimeout: pc.DeliveryTimeout}).Run(ctx)
	if err != nil {
		return err
	}
	if r.Acked < int64(sc.Records) {
		return fmt.Errorf("%d of %d records acknowledged", r.Acked, sc.Records)
	}
	return nil
}

// Target from issue 15: key ordering at concurrency 32 against partition
// ordering, with the handler waiting per record.
const (
	targetKeyConcurrency = 32
	targetKeySpeedup     = 20.0
)

// Markers delimit the generated ordering section of BENCHMARKS.md, apart
// from the main one, so that `--ordering` alone rewrites only it.
const (
	orderingBegin = "<!-- bench:ordering:begin (generated by scripts/bench.sh --ordering; edits here are overwritten) -->"
	orderingEnd   = "<!-- bench:ordering:end -->"
)

// findOrdering returns a row, nil if not measured.
func findOrdering(rows []Ordering, cluster, handler, subject string) *Ordering {
	for i, r := range rows {
		if r.Cluster == cluster && r.Handler == handler && r.Subject == subject {
			return &rows[i]
		}
	}
	return nil
}

// OrderingMarkdown renders res's ordering measurement.
func OrderingMarkdown(res *Results) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	sc, m := res.Scale.Ordering, res.Machine
	w("\nRun %s (UTC), every figure the median of **%d** runs; load average (1, 5, 15 min) before %s, after %s on %d × %s.\n\n",
		res.Started.Format("2006-01-02 15:04"), res.Runs, m.LoadBefore, m.LoadAfter, m.CPUs, m.CPUModel)
	w("Backlog: %d generator events of 100 B over %d keys, uncompressed, %d partitions. Each subject is `veltrix process` "+
		"in its own process, from the start of the backlog in a fresh group, timed from the group join observed to the "+
		"records handled (its metrics endpoint, as in the drain measurement); CPU per million is the process's, in that window.\n\n",
		sc.Records, sc.Keys, partitions)
	w("#### A handler that waits %s per record (`--handler simulate --handler.simulate.record_delay %s`)\n\n", sc.Delay, sc.Delay)
	w("| cluster | ordering | records | records/s | × partition | ideal records/s | of ideal | CPU-s/M | peak RSS (MiB) | max_in_flight | records/s of each run | load (1 min) |\n")
	w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	orderingRows(res.Ordering, "simulate", func(m OutsideRun) float64 { return m.Rate }, func(r Ordering, x string) {
		ideal := float64(partitions*r.Concurrency) / sc.Delay.Seconds()
		mif := "—"
		if r.MaxInFlight > 0 {
			mif = strconv.Itoa(r.MaxInFlight)
		}
		var each []string
		for _, run := range r.Runs {
			each = append(each, fmt.Sprintf("%.0f", run.Rate))
		}
		w("| %s | %s | %d | %.0f | %s | %.0f | %.0f%% | %s | %.0f | %s | %s | %s |\n", r.Cluster, r.Subject, r.Records, r.Median.Rate, x,
			ideal, 100*r.Median.Rate/ideal, cpuPerM(r.Median.CPUPerM), r.Median.PeakMiB, mif, strings.Join(each, ", "), runLoads(r.Runs))
	})
	w("\n#### The noop handler: the cost of key ordering (whole backlog)\n\n")
	w("| cluster | ordering | records/s | CPU-s/M | × partition's CPU | whole process CPU-s/M | peak RSS (MiB) | fetched ÷ processed | records/s of each run | load (1 min) |\n")
	w("|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	orderingRows(res.Ordering, "noop", func(m OutsideRun) float64 { return m.CPUPerM }, func(r Ordering, x string) {
		amp := "—" // results from before the column
		if r.Median.FetchAmp > 0 {
			amp = fmt.Sprintf("%.2f", r.Median.FetchAmp)
		}
		w("| %s | %s | %s | %s | %s | %s | %.0f | %s | %s | %s |\n", r.Cluster, r.Subject, rate(r.Median.Rate), cpuPerM(r.Median.CPUPerM), x,
			cpuPerM(r.Median.ProcessCPUPerM), r.Median.PeakMiB, amp, runRates(r.Runs), runLoads(r.Runs))
	})
	w("\n")
	for _, line := range orderingTargets(res) {
		w("- %s\n", line)
	}
	for _, e := range res.Errors {
		if strings.Contains(e, "ordering") {
			w("- failed: %s\n", e)
		}
	}
	w("\n")
	return b.String()
}

// orderingRows calls row, in order, with every row of rows measured with
// handler and x, its figure (the median run's) as a ratio to partition
// ordering's on the same cluster and handler ("—" when that is not
// measured).
func orderingRows(rows []Ordering, handler string, figure func(OutsideRun) float64, row func(r Ordering, x string)) {
	for _, r := range rows {
		if r.Handler != handler {
			continue
		}
		x := "—"
		if base := findOrdering(rows, r.Cluster, r.Handler, "partition"); base != nil {
			x = ratio(figure(r.Median), figure(base.Median))
		}
		row(r, x)
	}
}

// orderingTargets states issue 15's speed target per cluster.
func orderingTargets(res *Results) []string {
	var out []string
	for _, r := range res.Ordering {
		if r.Handler != "simulate" || r.Ordering != "key" || r.Concurrency != targetKeyConcurrency || r.MaxInFlight != config.Default().Processor.MaxInFlight {
			continue
		}
		base := findOrdering(res.Ordering, r.Cluster, r.Handler, "partition")
		if base == nil || base.Median.Rate == 0 {
			continue
		}
		x := r.Median.Rate / base.Median.Rate
		out = append(out, fmt.Sprintf("key ordering at concurrency %d on %s: %.1f × partition ordering's records/s (target ≥ %.0f: %s)",
			targetKeyConcurrency, r.Cluster, x, targetKeySpeedup, verdict(x >= targetKeySpeedup)))
	}
	return out
}

// OrderingOnlySkip is Options.Skip for a run of the ordering measurement
// alone (vbench --ordering): every other part.
func OrderingOnlySkip() []string {
	return []string{"calibration", "consume", "produce", "latency", "sustain", "memory", "drain", "steady", "produce-binary", "hotpaths"}
}

// orderingOnly reports whether r measured nothing but ordering (vbench
// --ordering): its report leaves the main generated section alone.
func (r *Results) orderingOnly() bool {
	return len(r.Consume)+len(r.Produce)+len(r.Latency)+len(r.Sustained)+len(r.Memory)+len(r.HotPaths)+
		len(r.Drain)+len(r.Steady)+len(r.ProduceBinary) == 0
}
