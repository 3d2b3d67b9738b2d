package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/producer"
)

// producerFn writes n records of size bytes to a fresh topic and returns
// records/s.
type producerFn func(ctx context.Context, topic string, n, size int) (float64, error)

// produceAll measures the three producers at equal acks, idempotence,
// linger, batch size and compression, Runs times each, interleaved. Each
// run writes to its own topic, deleted afterwards.
func produceAll(ctx context.Context, o *Options, res *Results, c cluster) error {
	subjects := map[string]producerFn{
		KafkaProducer: func(ctx context.Context, topic string, n, size int) (float64, error) {
			return producerPerformance(ctx, o.Root, c.brokers, topic, n, size)
		},
		PlainFranz: func(ctx context.Context, topic string, n, size int) (float64, error) {
			return plainProducer(ctx, c.brokers, topic, n, size)
		},
		VeltrixProduce: func(ctx context.Context, topic string, n, size int) (float64, error) {
			return veltrixProducer(ctx, c, topic, n, size)
		},
	}
	order := []string{KafkaProducer, PlainFranz, VeltrixProduce}
	var errs []error
	for _, size := range sortedKeys(o.Scale.ProduceRecords) {
		n := o.Scale.ProduceRecords[size]
		runs := map[string][]float64{}
		for run := 1; run <= o.Runs; run++ {
			for _, s := range order {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				topic := uniqueName("bench-produce")
				rate, err := func() (float64, error) {
					if err := createTopic(ctx, c.brokers, topic); err != nil {
						return 0, err
					}
					defer deleteTopics(c.brokers, topic)
					o.settleDisk(fmt.Sprintf("%s produce %dB %s run %d", c.name, size, s, run))
					return subjects[s](ctx, topic, n, size)
				}()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s %dB run %d: %w", s, size, run, err))
					continue
				}
				o.logf("%-8s %-5s %-22s run %d: %10.0f records/s (produce)", c.name, fmt.Sprintf("%dB", size), s, run, rate)
				runs[s] = append(runs[s], rate)
			}
		}
		for _, s := range order {
			if len(runs[s]) > 0 {
				res.Produce = append(res.Produce, Measure{Cluster: c.name, Size: size, Subject: s, Runs: runs[s], Median: median(runs[s])})
			}
		}
	}
	return errors.Join(errs...)
}

// veltrixProducer is `veltrix produce --count n --rate 0 --size size
// --keys 0` in this process: the generator, which stamps every event with a
// producer id and sequence header and a JSON value, at the shared settings.
func veltrixProducer(ctx context.Context, c cluster, topic string, n, size int) (float64, error) {
	pc := config.Default().Producer
	s := equalProduce
	pc.Acks, pc.Idempotent, pc.Linger, pc.BatchMaxBytes, pc.Compression, pc.MaxBufferedRecords =
		s.Acks, s.Idempotent, s.Linger, s.BatchMaxBytes, s.Compression, s.MaxBuffered
	gc := config.Default().Generate
	gc.Rate, gc.Count, gc.Size, gc.Keys, gc.ID = 0, n, int64(size), 0, "vbench"
	cl, err := kafka.Connect(ctx, c.kafkaConfig("vbench-veltrix-producer"), producer.ClientOptions(pc)...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	start := time.Now()
	r, err := generate.NewGenerator(cl, topic, gc, generate.Options{FlushTimeout: pc.DeliveryTimeout}).Run(ctx)
	if err != nil {
		return 0, err
	}
	if r.Acked != int64(n) {
		return 0, fmt.Errorf("acknowledged %d of %d records", r.Acked, n)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
