package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// partitions is every benchmark topic's partition count (veltrix's
// topic.partitions default).
const partitions = 6

// cluster is where a measurement runs.
type cluster struct {
	name    string // kafka or embedded
	brokers []string
	real    bool
	// pid is the broker's process when it runs in its own (the real broker,
	// `veltrix broker`), 0 when unknown or in this process.
	pid int
}

func (c cluster) kafkaConfig(clientID string) kafka.Config {
	return kafka.Config{Brokers: c.brokers, ClientID: clientID, ConnectTimeout: 15 * time.Second}
}

var nameSeq atomic.Int64

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, nameSeq.Add(1))
}

func admin(brokers []string) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// createTopic creates topic and waits until every partition has a leader
// and answers ListOffsets.
func createTopic(ctx context.Context, brokers []string, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*kafkatest.TopicWait)
	defer cancel()
	if err := kafkatest.CreateTopics(ctx, brokers, partitions, topic); err != nil {
		return err
	}
	adm, closeFn, err := admin(brokers)
	if err != nil {
		return err
	}
	defer closeFn()
	return waitTopic(ctx, adm, topic)
}

// waitTopic waits until every partition of a topic just created answers a
// ListOffsets request from its leader. Metadata names the leaders before
// the leader has loaded the partition; a producer that writes then gets
// an error for that partition and waits for its next metadata refresh
// (franz-go's metadata min age, 5 s) with its buffer full of that
// partition's records, which would be timed as throughput.
func waitTopic(ctx context.Context, adm *kadm.Client, topic string) error {
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil && ends.Error() == nil {
			n := 0
			ends.Each(func(kadm.ListedOffset) { n++ })
			if n == partitions {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for topic %s's partitions: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// deleteTopics removes topics, best effort: the broker's disk is shared.
func deleteTopics(brokers []string, topics ...string) {
	if len(topics) == 0 {
		return
	}
	adm, closeFn, err := admin(brokers)
	if err != nil {
		return
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = adm.DeleteTopics(ctx, topics...)
}

// groupLag is the sum over the topic's partitions of end offset minus the
// group's committed offset (0 where none is committed).
func groupLag(ctx context.Context, adm *kadm.Client, group, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c := int64(0)
		if r, ok := committed.Lookup(topic, o.Partition); ok && r.At >= 0 {
			c = r.At
		}
		lag += o.Offset - c
	})
	return lag, nil
}

// payload returns size random upper-case letters: what ProducerPerformance
// sends, so every producer writes equally (in)compressible values.
func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('A' + rand.IntN(26))
	}
	return b
}

// produceSettings are the producer settings every producer under test
// shares: veltrix's defaults except compression, which is off so that
// payloads of different compressibility cannot skew the comparison.
type produceSettings struct {
	Acks          string
	Idempotent    bool
	Linger        time.Duration
	BatchMaxBytes int64
	Compression   string
	MaxBuffered   int
}

var equalProduce = produceSettings{Acks: "all", Idempotent: true, Linger: time.Millisecond, BatchMaxBytes: 1 << 20, Compression: "none", MaxBuffered: 10000}

// plainProducer is the loop a user would write with franz-go: Produce with a
// callback, then Flush. It returns records/s from the first Produce to the
// last acknowledgement.
func plainProducer(ctx context.Context, brokers []string, topic string, n, size int) (float64, error) {
	s := equalProduce
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("vbench-plain-producer"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(s.Linger),
		kgo.ProducerBatchMaxBytes(int32(s.BatchMaxBytes)), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(s.MaxBuffered), kgo.RecordDeliveryTimeout(2*time.Minute))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return 0, fmt.Errorf("connecting: %w", err)
	}
	val := payload(size)
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	if p := firstErr.Load(); p != nil {
		return 0, fmt.Errorf("%d records failed, first: %w", failed.Load(), *p)
	}
	return float64(n) / elapsed.Seconds(), nil
}

// prefill creates topic and writes n records of size bytes with the plain
// producer.
func prefill(ctx context.Context, brokers []string, topic string, n, size int) error {
	if err := createTopic(ctx, brokers, topic); err != nil {
		return err
	}
	_, err := plainProducer(ctx, brokers, topic, n, size)
	return err
}
