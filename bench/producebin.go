package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Subjects of the produce measurement of binaries.
const (
	PlainProduceBinary   = "franz-go producer"
	VeltrixProduceBinary = "veltrix produce"
	// PlainProduceHeaders is the plain producer stamping the two identity
	// headers `veltrix produce` adds with producer.identity_headers (by
	// default its JSON value alone carries the identity): what they cost.
	PlainProduceHeaders = "franz-go producer, identity headers"
)

// produceCommand returns the binary and arguments writing n records of
// size bytes to topic at the equal settings.
// A profile path, when not empty, asks the binary for a CPU profile there.
type produceCommand func(c cluster, topic string, n, size int, profile string) (bin string, args []string)

func produceCommands(o *Options) (order []string, cmds map[string]produceCommand) {
	s := equalProduce
	cmds = map[string]produceCommand{
		PlainProduceBinary: func(c cluster, topic string, n, size int, profile string) (string, []string) {
			args := []string{"--brokers", strings.Join(c.brokers, ","), "--topic", topic,
				"--count", strconv.Itoa(n), "--size", strconv.Itoa(size), "--linger", s.Linger.String(),
				"--batch-max-bytes", strconv.FormatInt(s.BatchMaxBytes, 10), "--compression", s.Compression,
				"--max-buffered", strconv.Itoa(s.MaxBuffered)}
			if profile != "" {
				args = append(args, "--cpuprofile", profile)
			}
			return o.PlainProduce, args
		},
	}
	cmds[PlainProduceHeaders] = func(c cluster, topic string, n, size int, profile string) (string, []string) {
		bin, args := cmds[PlainProduceBinary](c, topic, n, size, profile)
		return bin, append(args, "--identity-headers")
	}
	order = []string{PlainProduceBinary, PlainProduceHeaders}
	for _, v := range veltrixBinaries(o) {
		// As a user runs it, metrics on; --keys 0 and the settings above
		// make it write what the plain producer writes, but its JSON value
		// naming the event.
		bin := v.bin
		cmds[VeltrixProduceBinary+v.suffix] = func(c cluster, topic string, n, size int, profile string) (string, []string) {
			args := []string{"produce", "--brokers", strings.Join(c.brokers, ","), "--topic", topic,
				"--count", strconv.Itoa(n), "--rate", "0", "--size", strconv.Itoa(size) + "B", "--keys", "0",
				"--producer.acks", s.Acks, "--producer.idempotent=" + strconv.FormatBool(s.Idempotent),
				"--producer.linger", s.Linger.String(), "--producer.batch_max_bytes", strconv.FormatInt(s.BatchMaxBytes, 10) + "B",
				"--producer.compression", s.Compression, "--producer.max_buffered_records", strconv.Itoa(s.MaxBuffered),
				"--producer.id", "vbench", "--metrics-addr", "127.0.0.1:0", "--kafka.client_id", "vbench-produce"}
			if profile != "" && bin != o.Baseline {
				args = append(args, "--cpu-profile", profile)
			}
			return bin, args
		}
		order = append(order, VeltrixProduceBinary+v.suffix)
	}
	return order, cmds
}

// produceBinaries runs each producer binary Runs times per record size,
// interleaved, each run into a fresh topic deleted afterwards.
func produceBinaries(ctx context.Context, o *Options, res *Results, c cluster) error {
	order, cmds := produceCommands(o)
	var errs []error
	for _, size := range sortedKeys(o.Scale.ProduceRecords) {
		n := o.Scale.ProduceRecords[size]
		runs := map[string][]OutsideRun{}
		for run := 1; run <= o.Runs; run++ {
			for _, s := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				topic := uniqueName("bench-produce-bin")
				r, err := func() (OutsideRun, error) {
					if err := createTopic(ctx, c.brokers, topic); err != nil {
						return OutsideRun{}, err
					}
					defer deleteTopics(c.brokers, topic)
					o.settleDisk(fmt.Sprintf("%s produce %dB %s run %d", c.name, size, s, run))
					bin, args := cmds[s](c, topic, n, size, o.profilePath(c.name, fmt.Sprintf("produce-%dB", size), s, run))
					return produceRun(ctx, c, s, bin, args, topic, n)
				}()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s produce binary %s %dB run %d: %w", c.name, s, size, run, err))
					continue
				}
				o.logf("%-8s produce %-5s %-18s run %d: %9.0f records/s, %.2f CPU-s/M (process %.2f), start %.2fs, peak %.0f MiB, load %.2f",
					c.name, fmt.Sprintf("%dB", size), s, run, r.Rate, r.CPUPerM, r.ProcessCPUPerM, r.StartSeconds, r.PeakMiB, r.Load1)
				runs[s] = append(runs[s], r)
			}
		}
		for _, s := range order {
			if len(runs[s]) > 0 {
				res.ProduceBinary = append(res.ProduceBinary, Outside{Cluster: c.name, Size: size, Payload: "random", Records: n,
					Subject: s, Median: medianRun(runs[s]), Runs: runs[s]})
			}
		}
	}
	return errors.Join(errs...)
}

// produceRun starts a producer binary and watches the topic's end offsets
// until all n records are there; then waits for the process to exit.
func produceRun(ctx context.Context, c cluster, name, bin string, args []string, topic string, n int) (OutsideRun, error) {
	adm, closeAdm, err := admin(c.brokers)
	if err != nil {
		return OutsideRun{}, err
	}
	defer closeAdm()
	observe := func(ctx context.Context) (progress, error) {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return progress{}, err
		}
		if err := ends.Error(); err != nil {
			return progress{}, err
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		return progress{records: sum, started: sum > 0}, nil
	}
	// Connect and learn the leaders now, so that the first observation is
	// not late by a connection and a metadata round trip.
	if _, err := observe(ctx); err != nil {
		return OutsideRun{}, err
	}
	p, err := startProc(name, bin, args...)
	if err != nil {
		return OutsideRun{}, err
	}
	var peak float64
	first, last, samples, werr := watch(ctx, p, c.pid, int64(n), func(ctx context.Context) (progress, error) {
		peak = max(peak, mib(p.PeakRSS()))
		return observe(ctx)
	}, consumeTimeout)
	life, err := waitDone(ctx, p, time.Minute)
	if werr != nil {
		return OutsideRun{}, werr
	}
	if err != nil {
		return OutsideRun{}, err
	}
	r, err := window(first, last, int64(n), 0)
	if err != nil {
		return OutsideRun{}, err
	}
	r.Samples, r.Load1 = samples, load1()
	r.StartSeconds = first.at.Sub(p.Started()).Seconds()
	r.ProcessCPUPerM = life.Seconds() / float64(n) * 1e6
	// VmHWM as last seen alive: rusage's ru_maxrss cannot stand in, as
	// Linux folds the forking parent's high-water mark into it at exec.
	r.PeakMiB = peak
	return r, nil
}
