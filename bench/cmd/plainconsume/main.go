// Command plainconsume is the plain franz-go consumer the benchmark harness
// compares `veltrix process` with, run as its own process the way a user
// runs theirs: a consumer-group member polling and counting records, nothing
// else (franz-go's default autocommit, every 5 s, of polled records).
//
// It serves its counts in Prometheus text format on --stats-addr so the
// harness can watch it from outside exactly as it watches veltrix's
// /metrics: partitions assigned (ever: the group join is done when they
// are all there), records polled, their value bytes, and the uncompressed
// batch bytes fetched (counted by a franz-go fetch hook, what
// kafka_client_fetch_bytes_total counts for veltrix). It runs until SIGINT
// or SIGTERM.
//
//	plainconsume --brokers 127.0.0.1:9092 --topic events --group plain
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/profile"
)

// fetchCounter is a kgo hook adding up the uncompressed bytes of every
// record batch the client decodes: what a consumer fetched, refetches
// included.
type fetchCounter struct{ bytes atomic.Int64 }

var _ kgo.HookFetchBatchRead = (*fetchCounter)(nil)

func (f *fetchCounter) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	f.bytes.Add(int64(m.UncompressedBytes))
}

func main() {
	fc := config.Default().Processor.Fetch
	var (
		brokers   = flag.String("brokers", "127.0.0.1:9092", "bootstrap brokers, comma-separated")
		topic     = flag.String("topic", "events", "topic to consume")
		group     = flag.String("group", "plainconsume", "consumer group")
		statsAddr = flag.String("stats-addr", "127.0.0.1:0", "address serving the counts as Prometheus text on /metrics")
		maxWait   = flag.Duration("fetch-max-wait", fc.MaxWait, "fetch.max_wait (veltrix's default)")
		maxBytes  = flag.Int64("fetch-max-bytes", fc.MaxBytes, "fetch.max_bytes (veltrix's default)")
		partBytes = flag.Int64("fetch-max-partition-bytes", fc.MaxPartitionBytes, "fetch.max_partition_bytes (veltrix's default)")
	)
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	stopProfile, err := profile.StartCPU(*cpuprofile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		os.Exit(1)
	}
	defer stopProfile()
	if err := run(*brokers, *topic, *group, *statsAddr, *maxWait, int32(*maxBytes), int32(*partBytes)); err != nil {
		fmt.Fprintln(os.Stderr, "plainconsume:", err)
		os.Exit(1)
	}
}

func run(brokers, topic, group, statsAddr string, maxWait time.Duration, maxBytes, partBytes int32) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fetched := &fetchCounter{}
	var assigned, polled, valueBytes atomic.Int64
	ln, err := net.Listen("tcp", statsAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", statsAddr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "plainconsume_partitions_assigned{topic=%q} %d\n", topic, assigned.Load())
		fmt.Fprintf(w, "plainconsume_processed_records_total{topic=%q} %d\n", topic, polled.Load())
		fmt.Fprintf(w, "plainconsume_value_bytes_total{topic=%q} %d\n", topic, valueBytes.Load())
		fmt.Fprintf(w, "plainconsume_fetch_bytes_total{topic=%q} %d\n", topic, fetched.bytes.Load())
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	fmt.Fprintf(os.Stderr, "plainconsume: topic %s, group %s; stats at http://%s/metrics\n", topic, group, ln.Addr())

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ClientID("plainconsume"),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(maxWait), kgo.FetchMaxBytes(maxBytes), kgo.FetchMaxPartitionBytes(partBytes),
		kgo.WithHooks(fetched),
		// Only the assigned callback: setting the revoked one would replace
		// franz-go's default commit on revoke.
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			assigned.Add(int64(len(m[topic])))
		}))
	if err != nil {
		return fmt.Errorf("creating the client: %w", err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				fmt.Fprintf(os.Stderr, "plainconsume: fetching %s/%d: %v\n", t, p, err)
			}
		})
		var n, b int64
		// Touch every value, as a real loop would.
		fs.EachRecord(func(r *kgo.Record) {
			b += int64(len(r.Value))
			n++
		})
		valueBytes.Add(b)
		polled.Add(n)
	}
}
