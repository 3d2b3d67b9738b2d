package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/producer"
)

// steadySize is the value size of the steady-rate runs' events.
const steadySize = 100

// steadyAll measures the consumer binaries at the default profile — the
// franz-go loop and `veltrix process` (and the baseline's) — at each steady
// rate of the scale on c, Runs times, interleaved. Draining a backlog shows
// the cost of a record when records wait; at a steady rate the cost of
// the time between them counts too: fetches that return little, commits,
// heartbeats, metrics.
func steadyAll(ctx context.Context, o *Options, res *Results, c cluster) error {
	var subjects []drainSubject
	for _, s := range drainSubjects(o) {
		if s.name == PlainConsumeBinary || strings.HasPrefix(s.name, VeltrixDefault) {
			subjects = append(subjects, s)
		}
	}
	var errs []error
	for _, offered := range o.Scale.SteadyRates {
		runs := map[string][]OutsideRun{}
		for run := 1; run <= o.Runs; run++ {
			for _, s := range subjects {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r, err := steadyRun(ctx, o, c, s, offered, o.profilePath(c.name, "steady-"+rate(offered), s.name, run))
				if err != nil {
					errs = append(errs, fmt.Errorf("%s steady %s/s %s run %d: %w", c.name, rate(offered), s.name, run, err))
					continue
				}
				o.logf("%-8s steady %7s/s %-33s run %d: handled %9.0f records/s, %.2f CPU-s/M (%.3f CPU-s per second; broker %.2f), peak %.0f MiB, load %.2f",
					c.name, rate(offered), s.name, run, r.Rate, r.CPUPerM, r.CPUPerM*r.Rate/1e6, r.BrokerCPUPerM, r.PeakMiB, r.Load1)
				runs[s.name] = append(runs[s.name], r)
			}
		}
		for _, s := range subjects {
			if len(runs[s.name]) > 0 {
				res.Steady = append(res.Steady, Outside{Cluster: c.name, Size: steadySize, Payload: "generated", Offered: offered,
					Subject: s.name, Median: medianRun(runs[s.name]), Runs: runs[s.name]})
			}
		}
	}
	return errors.Join(errs...)
}

// steadyRun starts the subject in a fresh group on a fresh topic, waits
// for its join, then feeds the topic at offered events/s from the
// harness's generator (veltrix's defaults: linger 1 ms, lz4, acks=all) and
// times the subject's CPU over SteadyDuration after SteadyWarmup. A
// profile path, when not empty, asks the subject for a CPU profile of its
// whole life there.
func steadyRun(ctx context.Context, o *Options, c cluster, s drainSubject, offered float64, profile string) (_ OutsideRun, err error) {
	topic := uniqueName("bench-steady")
	if err := createTopic(ctx, c.brokers, topic); err != nil {
		return OutsideRun{}, err
	}
	defer deleteTopics(c.brokers, topic)
	p, observeFn, err := startWatched(ctx, c, s, topic, uniqueName("bench-steady"), profile)
	if err != nil {
		return OutsideRun{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_, _ = stop(p, 5*time.Second)
		}
	}()
	if err := waitAssigned(ctx, p, observeFn, 30*time.Second); err != nil {
		return OutsideRun{}, err
	}

	cfg := config.Default()
	gc := cfg.Generate
	gc.Rate, gc.Duration, gc.Size, gc.ID = offered, o.Scale.SteadyWarmup+o.Scale.SteadyDuration, steadySize, "vbench-steady"
	pcl, err := kafka.Connect(ctx, c.kafkaConfig("vbench-steady-producer"), producer.ClientOptions(cfg.Producer)...)
	if err != nil {
		return OutsideRun{}, err
	}
	defer pcl.Close()
	gen := generate.NewGenerator(pcl, topic, gc, generate.Options{FlushTimeout: cfg.Producer.DeliveryTimeout})
	genErr := make(chan error, 1)
	go func() {
		_, err := gen.Run(ctx)
		genErr <- err
	}()
	sleep(ctx, o.Scale.SteadyWarmup)
	first, err := observe(ctx, p, c.pid, observeFn)
	if err != nil {
		return OutsideRun{}, err
	}
	sleep(ctx, o.Scale.SteadyDuration)
	last, err := observe(ctx, p, c.pid, observeFn)
	if err != nil {
		return OutsideRun{}, err
	}
	if err := <-genErr; err != nil {
		return OutsideRun{}, fmt.Errorf("generator: %w", err)
	}
	r, err := window(first, last, last.records, 0)
	if err != nil {
		return OutsideRun{}, err
	}
	r.Samples, r.Load1, r.PeakMiB = 2, load1(), mib(p.PeakRSS())
	r.StartSeconds = first.at.Sub(p.Started()).Seconds()
	// The last observation's scrape is in the window (each observation
	// scrapes, then reads the CPU): take one observation's cost out.
	per, err := observeCost(ctx, p, observeFn)
	if err != nil {
		return OutsideRun{}, err
	}
	r.ObserveCPUPerM = per.Seconds() / float64(r.Measured) * 1e6
	r.CPUPerM = max(r.CPUPerM-r.ObserveCPUPerM, 0)
	stopped = true
	life, err := stop(p, 30*time.Second)
	if err != nil {
		return OutsideRun{}, err
	}
	if last.records > 0 {
		r.ProcessCPUPerM = life.Seconds() / float64(last.records) * 1e6
	}
	return r, nil
}

// waitAssigned observes p until it reports every partition assigned.
func waitAssigned(ctx context.Context, p *child.Process, observeFn progressFn, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		pr, err := observeFn(ctx)
		if err == nil && pr.started {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
		sleep(ctx, preFirst)
	}
	return fmt.Errorf("no group join within %s (last error %v): %s", timeout, last, p.Tail(5))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// findSteady finds a steady-rate row.
func findSteady(rows []Outside, cluster string, offered float64, subject string) *Outside {
	for i, r := range rows {
		if r.Cluster == cluster && r.Offered == offered && r.Subject == subject {
			return &rows[i]
		}
	}
	return nil
}
