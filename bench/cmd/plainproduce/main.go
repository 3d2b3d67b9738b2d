// Command plainproduce is the plain franz-go producer the benchmark harness
// compares `veltrix produce` with, run as its own process: Produce with a
// callback for --count records of --size bytes (one value of random
// letters, no key, no headers), then Flush, then a one-line JSON summary on
// stdout. Its producer settings are flags so the harness can set them equal
// to veltrix's.
//
//	plainproduce --brokers 127.0.0.1:9092 --topic events --count 1000000 --size 100
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/veltrix/veltrix/internal/profile"
)

func main() {
	var (
		brokers     = flag.String("brokers", "127.0.0.1:9092", "bootstrap brokers, comma-separated")
		topic       = flag.String("topic", "events", "topic to write")
		count       = flag.Int("count", 1_000_000, "records to write")
		size        = flag.Int("size", 100, "value bytes per record")
		linger      = flag.Duration("linger", time.Millisecond, "producer linger")
		batchBytes  = flag.Int("batch-max-bytes", 1<<20, "largest batch per partition")
		compression = flag.String("compression", "none", "none or lz4")
		maxBuffered = flag.Int("max-buffered", 10000, "records buffered before Produce blocks")
		headers     = flag.Bool("identity-headers", false, "stamp each record with the two identity headers `veltrix produce` adds with producer.identity_headers (veltrix-producer, veltrix-seq): what they cost")
	)
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	stopProfile, err := profile.StartCPU(*cpuprofile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		os.Exit(1)
	}
	defer stopProfile()
	codec := kgo.NoCompression()
	switch *compression {
	case "none":
	case "lz4":
		codec = kgo.Lz4Compression()
	default:
		fmt.Fprintf(os.Stderr, "plainproduce: --compression %q: want none or lz4\n", *compression)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// acks=all and idempotence are franz-go's defaults, as they are veltrix's.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...), kgo.ClientID("plainproduce"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(*linger), kgo.ProducerBatchMaxBytes(int32(*batchBytes)),
		kgo.ProducerBatchCompression(codec), kgo.MaxBufferedRecords(*maxBuffered), kgo.RecordDeliveryTimeout(2*time.Minute))
	if err != nil {
		fmt.Fprintln(os.Stderr, "plainproduce: creating the client:", err)
		os.Exit(1)
	}
	defer cl.Close()
	val := make([]byte, *size)
	for i := range val {
		val[i] = byte('A' + rand.IntN(26))
	}
	producerID := []byte("vbench")
	var failed atomic.Int64
	start := time.Now()
	for i := 0; i < *count && ctx.Err() == nil; i++ {
		r := &kgo.Record{Topic: *topic, Value: val}
		if *headers {
			r.Headers = []kgo.RecordHeader{{Key: "veltrix-producer", Value: producerID}, {Key: "veltrix-seq", Value: strconv.AppendUint(nil, uint64(i), 10)}}
		}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil && failed.Add(1) == 1 {
				fmt.Fprintln(os.Stderr, "plainproduce: first failed record:", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "plainproduce: flushing:", err)
		os.Exit(1)
	}
	secs := time.Since(start).Seconds()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"records": *count, "failed": failed.Load(), "seconds": secs})
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
