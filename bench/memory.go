package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// member is a running `veltrix process`.
type member struct {
	cmd  *exec.Cmd
	errb bytes.Buffer
	done chan error
}

func startProcess(ctx context.Context, bin string, c cluster, topic, group string, extra ...string) (*member, error) {
	args := append([]string{"process", "--brokers", strings.Join(c.brokers, ","), "--topic", topic, "--group", group,
		"--metrics-addr", "", "--kafka.client_id", "vbench-process"}, extra...)
	m := &member{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	m.cmd.Stderr = &m.errb
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VELTRIX_") {
			env = append(env, kv)
		}
	}
	m.cmd.Env = env
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	return m, nil
}

// hwmMiB is the process's peak resident set (VmHWM) in MiB.
func (m *member) hwmMiB() float64 { return procHWM(m.cmd.Process.Pid) }

// stop sends SIGTERM and waits for the exit; SIGKILL after 30 s.
func (m *member) stop() error {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.done:
		if err != nil {
			return fmt.Errorf("veltrix process exited with %v: %s", err, lastLines(m.errb.String(), 5))
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Signal(syscall.SIGKILL)
		<-m.done
		return fmt.Errorf("veltrix process did not exit within 30s of SIGTERM")
	}
}

// waitLag polls the group's lag every 200 ms until cond holds, the process
// exits, or timeout passes.
func waitLag(ctx context.Context, c cluster, m *member, group, topic string, timeout time.Duration, cond func(lag int64) bool) error {
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
		case err := <-m.done:
			m.done <- err
			return fmt.Errorf("veltrix process exited: %v: %s", err, lastLines(m.errb.String(), 5))
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
			m, err := startProcess(ctx, o.Veltrix, c, topics[size], group)
			if err != nil {
				return err
			}
			err = waitLag(ctx, c, m, group, topics[size], consumeTimeout, func(lag int64) bool { return lag == 0 })
			peak := m.hwmMiB()
			errs = append(errs, m.stop())
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
// budget. Allowance = idle RSS + 2 × (budget + one poll + one fetch): the
// queues hold at most the budget plus one poll (buffer.max_records records
// of every partition), the client at most one fetch response (partitions ×
// fetch.max_partition_bytes), and Go's heap grows to twice its live size
// before collecting (GOGC=100).
func overload(ctx context.Context, o *Options, res *Results, c cluster) error {
	pcfg := config.Default().Processor
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
			Runs: peaks, BudgetMiB: budget, Seconds: o.Scale.OverloadDuration.Seconds(),
			Notes: fmt.Sprintf("simulate handler %s/record (%d events/s over %d partitions), producer %d events/s; one poll %.1f MiB, one fetch %.0f MiB on the wire",
				overloadDelay, int(partitions*time.Second/overloadDelay), partitions, overloadRate, poll, fetch)}
		switch {
		case comp == "none":
			m.AllowanceMiB = idle + 2*(budget+poll+fetch)
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
	m, err := startProcess(ctx, o.Veltrix, c, topic, group, args...)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if serr := m.stop(); err == nil {
			err = serr
		}
	}()
	if err := waitJoined(ctx, c, group, 30*time.Second); err != nil {
		return 0, 0, err
	}
	idle = m.hwmMiB()

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
	return m.hwmMiB(), idle, nil
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
