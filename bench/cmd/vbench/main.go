// Command vbench runs veltrix's benchmarks side by side with a plain
// franz-go loop and Kafka's own performance tools, writes the results to
// bench/results/<timestamp>.json (and latest.json) and regenerates the
// tables in BENCHMARKS.md. scripts/bench.sh is the usual way to run it: it
// starts the broker and builds the veltrix binary first.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/veltrix/veltrix/bench"
	"github.com/veltrix/veltrix/internal/profile"
)

func main() {
	var (
		quick    = flag.Bool("quick", false, "smoke scale: every measurement, small (about 5 minutes)")
		runs     = flag.Int("runs", 3, "repetitions of each measurement; the median is reported")
		brokers  = flag.String("brokers", "127.0.0.1:19092", "the real Apache Kafka broker")
		embedded = flag.Bool("embedded", true, "also measure consume and latency on the embedded cluster")
		veltrix  = flag.String("veltrix", "", "the veltrix binary for the memory, drain and produce-binary runs")
		baseline = flag.String("baseline", "", "another veltrix binary (e.g. a build before a change) measured in the same drain and produce-binary runs, interleaved, as \"(baseline)\" subjects")
		plainC   = flag.String("plainconsume", "", "the plain franz-go consumer binary (bench/cmd/plainconsume); built when empty")
		plainP   = flag.String("plainproduce", "", "the plain franz-go producer binary (bench/cmd/plainproduce); built when empty")
		drain    = flag.String("drain", "", "backlogs of the drain runs instead of the scale's, SIZExRECORDS[c] comma-separated (c: compressible), e.g. 100x1000000,100x1000000c")
		steady   = flag.String("steady", "", "rates of the steady-rate runs instead of the scale's, events/s comma-separated, e.g. 10000,100000")
		root     = flag.String("root", ".", "the repository root")
		out      = flag.String("out", "bench/results", "directory for the JSON results")
		report   = flag.String("report", "BENCHMARKS.md", "Markdown file whose generated section is rewritten (\"\" for none)")
		from     = flag.String("from", "", "regenerate --report from this results file instead of running")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the harness process (the in-process subjects) to this file")
		profiles = flag.String("profiles", "", "directory for a CPU profile of every drain, steady-rate and produce-binary subject run (the binaries' own --cpu-profile / --cpuprofile)")
		skip     = flag.String("skip", "", "comma-separated parts to skip: calibration, consume, produce, latency, sustain, memory, drain, steady, produce-binary, hotpaths, ordering")
		ordering = flag.Bool("ordering", false, "only the ordering measurement (partition vs key ordering, issue 15), at the full scale's size; rewrites only its section of --report")
	)
	flag.Parse()
	if *from != "" {
		res, err := bench.Read(*from)
		if err == nil {
			err = bench.UpdateReport(under(*root, *report), res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vbench:", err)
			os.Exit(1)
		}
		return
	}
	scale := bench.Full()
	if *quick {
		scale = bench.Quick()
	}
	if *drain != "" {
		b, err := bench.ParseBacklogs(*drain)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vbench: --drain:", err)
			os.Exit(2)
		}
		scale.Drain = b
	}
	if *steady != "" {
		scale.SteadyRates = nil
		for _, f := range strings.Split(*steady, ",") {
			r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || r <= 0 {
				fmt.Fprintf(os.Stderr, "vbench: --steady: %q is not a rate in events/s (a positive number)\n", f)
				os.Exit(2)
			}
			scale.SteadyRates = append(scale.SteadyRates, r)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := bench.Options{
		Scale: scale, Runs: *runs, Brokers: strings.Split(*brokers, ","), Embedded: *embedded,
		Root: *root, Veltrix: *veltrix, Baseline: *baseline, PlainConsume: *plainC, PlainProduce: *plainP, Profiles: *profiles,
		Log: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		},
	}
	if *profiles != "" {
		if err := os.MkdirAll(*profiles, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "vbench: --profiles:", err)
			os.Exit(1)
		}
	}
	if *skip != "" {
		o.Skip = strings.Split(*skip, ",")
	}
	if *ordering {
		o.Skip = append(o.Skip, bench.OrderingOnlySkip()...)
		if o.Scale.Ordering.Records == 0 {
			// --quick --ordering: the full scale's ordering measurement
			// is the smallest that times the waiting handler.
			o.Scale.Ordering = bench.Full().Ordering
		}
	}
	stopProfile, err := profile.StartCPU(*cpuprof)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vbench:", err)
		os.Exit(1)
	}
	res, err := bench.Run(ctx, o)
	stopProfile()
	if res == nil {
		fmt.Fprintln(os.Stderr, "vbench:", err)
		os.Exit(1)
	}
	path, werr := bench.Write(under(*root, *out), res)
	if werr != nil {
		fmt.Fprintln(os.Stderr, "vbench: writing results:", werr)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "vbench: results in", path)
	if *report != "" {
		if err := bench.UpdateReport(under(*root, *report), res); err != nil {
			fmt.Fprintln(os.Stderr, "vbench: updating the report:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "vbench: tables regenerated in", *report)
	}
	if err != nil || len(res.Errors) > 0 {
		fmt.Fprintf(os.Stderr, "vbench: %d parts failed (listed in the report); %v\n", len(res.Errors), err)
		os.Exit(1)
	}
}

// under resolves a relative path against the repository root.
func under(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}
