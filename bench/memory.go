package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/producer"
)

// Overload settings: the handler takes overloadDelay per record, so six
// partitions handle 6 / 2 ms = 3,000 events/s; the producer writes ten
// times that, 1 KiB each, against a buffer budget of overloadBudget.
const (
	overloadDelay  = 2 * time.Millisecond
	overloadRate   = 30_000
	overloadSize   = 1024
	overloadBudget = 16 << 20
)

// startProcess starts `veltrix process` on topic in group, with extra flags.
func startProcess(bin string, c cluster, topic, group string, extra ...string) (*child.Process, error) {
	args := append([]string{"process", "--brokers", strings.Join(c.brokers, ","), "--topic", topic, "--group", group,
		"--metrics-addr", "", "--kafka.client_id", "vbench-process"}, extra...)
	return startProc("veltrix process", bin, args...)
}

// waitLag polls the group's lag every 200 ms until cond holds, the process
// exits, or timeout passes.
func waitLag(ctx context.Context, c cluster, m *child.Process, group, topic string, timeout time.Duration, cond func(lag int64) bool) error {
	adm, closeFn, err := admin(c.brokers)
	if err != nil {
		return err
	}
	defer closeFn()
	deadline := time.Now().Add(timeout)
	for {
		lag, err := groupLag(ctx, adm, group, topic)
		if err == nil && cond(lag) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("group %s: lag %d (err %v) after %s", group, lag, err, timeout)
		}
		select {
		case <-m.Done():
			return fmt.Errorf("veltrix process exited: %v: %s", m.Err(), m.Tail(5))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// memoryAll measures peak RSS draining each pre-filled topic with the noop
// handler, and under a 10x overload.
func memoryAll(ctx context.Context, o *Options, res *Results, c cluster, topics map[int]string) error {
	if o.Veltrix == "" {
		return errors.New("no veltrix binary (Options.Veltrix)")
	}
	var errs []error
	for _, size := range sortedKeys(topics) {
		var peaks, secs []float64
		for run := 1; run <= o.Runs; run++ {
			group := uniqueName("bench-memory")
			start := time.Now()
			m, err := startProcess(o.Veltrix, c, topics[size], group)
			if err != nil {
				return err
			}
			err = waitLag(ctx, c, m, group, topics[size], consumeTimeout, func(lag int64) bool { return lag == 0 })
			peak := mib(m.PeakRSS())
			_, serr := m.Term(30 * time.Second)
			errs = append(errs, serr)
			if err != nil {
				errs = append(errs, fmt.Errorf("draining %dB: %w", size, err))
				continue
			}
			peaks = append(peaks, peak)
			secs = append(secs, time.Since(start).Seconds())
			o.logf("memory: drained %d × %dB with `veltrix process` in %.1fs, peak RSS %.1f MiB", o.Scale.Records[size], size, secs[len(secs)-1], peak)
		}
		if len(peaks) > 0 {
			res.Memory = append(res.Memory, Memory{Scenario: "drain", Size: size, PeakMiB: median(peaks), Runs: peaks,
				BudgetMiB: float64(config.Default().Processor.Buffer.MaxBytes) / (1 << 20), Seconds: median(secs),
				Notes: "noop handler, default settings; seconds include start-up and group join"})
		}
	}
	errs = append(errs, overload(ctx, o, res, c))
	return errors.Join(errs...)
}

// overload runs `veltrix process` with a handler ten times slower than the
// producer for OverloadDuration and reports its peak RSS against the
// budget. Allowance = idle RSS + (1 + GOGC/100) × (budget + one poll + one
// fetch): the queues hold at most the budget plus one poll
// (buffer.max_records records of every partition), the client at most one
// fetch response (partitions × fetch.max_partition_bytes), and Go's heap
// grows by GOGC percent of its live size before collecting (veltrix
// process sets deploy.gc_percent, 200, and no memory limit is known here).
func overload(ctx context.Context, o *Options, res *Results, c cluster) error {
	def := config.Default()
	pcfg := def.Processor
	growth := 1 + float64(def.Deploy.GCPercent)/100
	poll := float64(pcfg.Buffer.MaxRecords*(overloadSize+40)) / (1 << 20)
	fetch := float64(min(pcfg.Fetch.MaxBytes, partitions*pcfg.Fetch.MaxPartitionBytes)) / (1 << 20)
	budget := float64(overloadBudget) / (1 << 20)
	var errs []error
	// Without compression a fetch takes as much memory as it carries on the
	// wire; with lz4 (veltrix's default) franz-go decompresses the whole
	// fetch response, so the fetch term grows by the compression ratio.
	for _, v := range []struct{ comp, partBytes string }{{"none", ""}, {"lz4", ""}, {"lz4", "64KiB"}} {
		comp := v.comp
		var peaks, idles []float64
		for run := 1; run <= o.Runs; run++ {
			peak, idle, err := overloadRun(ctx, o, c, comp, v.partBytes)
			if err != nil {
				errs = append(errs, fmt.Errorf("overload (%s %s) run %d: %w", comp, v.partBytes, run, err))
				continue
			}
			o.logf("memory: 10x overload (compression %s %s) for %s, peak RSS %.1f MiB (idle %.1f MiB, budget %.0f MiB)", comp, v.partBytes, o.Scale.OverloadDuration, peak, idle, budget)
			peaks, idles = append(peaks, peak), append(idles, idle)
		}
		if len(peaks) == 0 {
			continue
		}
		idle := median(idles)
		m := Memory{Scenario: "overload, compression " + comp, Size: overloadSize, PeakMiB: median(peaks), IdleMiB: idle,
			Runs: peaks, BudgetMiB: budget, Growth: growth, Seconds: o.Scale.OverloadDuration.Seconds(),
			Notes: fmt.Sprintf("simulate handler %s/record (%d events/s over %d partitions), producer %d events/s; one poll %.1f MiB, one fetch %.0f MiB on the wire",
				overloadDelay, int(partitions*time.Second/overloadDelay), partitions, overloadRate, poll, fetch)}
		switch {
		case comp == "none":
			m.AllowanceMiB = idle + growth*(budget+poll+fetch)
		case v.partBytes == "":
			m.Notes += "; no fixed allowance: franz-go decompresses a whole fetch response, and the generator's events compress about 120×"
		default:
			m.Scenario += ", fetch.max_partition_bytes " + v.partBytes
			m.Notes += "; the fetch term shrunk 16× to offset the compression"
		}
		res.Memory = append(res.Memory, m)
	}
	return errors.Join(errs...)
}

func overloadRun(ctx context.Context, o *Options, c cluster, compression, partBytes string) (peak, idle float64, err error) {
	topic, group := uniqueName("bench-overload"), uniqueName("bench-overload")
	if err := createTopic(ctx, c.brokers, topic); err != nil {
		return 0, 0, err
	}
	defer deleteTopics(c.brokers, topic)
	args := []string{"--handler", "simulate", "--handler.simulate.record_delay", overloadDelay.String(),
		"--processor.buffer.max_bytes", strconv.Itoa(overloadBudget)}
	if partBytes != "" {
		args = append(args, "--processor.fetch.max_partition_bytes", partBytes)
	}
	m, err := startProcess(o.Veltrix, c, topic, group, args...)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if _, serr := m.Term(30 * time.Second); err == nil {
			err = serr
		}
	}()
	if err := waitJoined(ctx, c, group, 30*time.Second); err != nil {
		return 0, 0, err
	}
	idle = mib(m.PeakRSS())

	pc, gc := config.Default().Producer, config.Default().Generate
	pc.Compression = compression
	gc.Rate, gc.Duration, gc.Size, gc.ID = overloadRate, o.Scale.OverloadDuration, overloadSize, "vbench-overload"
	pcl, err := kafka.Connect(ctx, c.kafkaConfig("vbench-overload-producer"), producer.ClientOptions(pc)...)
	if err != nil {
		return 0, 0, err
	}
	defer pcl.Close()
	if _, err := generate.NewGenerator(pcl, topic, gc, generate.Options{FlushTimeout: pc.DeliveryTimeout}).Run(ctx); err != nil {
		return 0, 0, err
	}
	return mib(m.PeakRSS()), idle, nil
}

// waitJoined waits until group is stable with its partitions assigned.
func waitJoined(ctx context.Context, c cluster, group string, timeout time.Duration) error {
	adm, closeFn, err := admin(c.brokers)
	if err != nil {
		return err
	}
	defer closeFn()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		gs, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			if g, ok := gs[group]; ok && g.State == "Stable" && len(g.Members) > 0 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("group %s did not become stable within %s", group, timeout)
}
