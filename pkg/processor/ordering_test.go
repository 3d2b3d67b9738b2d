package processor_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// produceKeyed writes one record per key to part, in order, in one produce
// call.
func produceKeyed(t *testing.T, brokers []string, topic string, part int32, keys []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(keys))
	for i, k := range keys {
		recs[i] = &kgo.Record{Topic: topic, Partition: part, Key: []byte(k), Value: []byte("v")}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing to %s/%d: %v", topic, part, err)
	}
}

// randomKeysTopic creates a topic of parts partitions and writes perPart
// records to each, their keys drawn at random from keys keys.
func randomKeysTopic(t *testing.T, c kafkatest.Cluster, parts, perPart, keys int) string {
	t.Helper()
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, c.Brokers, topic, parts)
	for part := range int32(parts) {
		ks := make([]string, perPart)
		for i := range ks {
			ks[i] = fmt.Sprintf("k%d", rand.IntN(keys))
		}
		produceKeyed(t, c.Brokers, topic, part, ks)
	}
	return topic
}

// badKeyTopic creates a topic of one partition and writes n records to it,
// of keys keys in turn, but the one at offset bad has the key "bad".
func badKeyTopic(t *testing.T, c kafkatest.Cluster, n, keys, bad int) string {
	t.Helper()
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, c.Brokers, topic, 1)
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("k%d", i%keys)
	}
	ks[bad] = "bad"
	produceKeyed(t, c.Brokers, topic, 0, ks)
	return topic
}

// orderLog is a handler recording what key ordering hands over
// (processor.KeyLog), each call taking up to half a millisecond; fail, when
// set, fails a call holding a record it refuses.
type orderLog struct {
	*processor.KeyLog
	fail func(r *kgo.Record) error
}

func newOrderLog() *orderLog { return &orderLog{KeyLog: processor.NewKeyLog()} }

func (o *orderLog) Handle(_ context.Context, b *processor.Batch) error {
	o.Start(b)
	time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
	var err error
	if o.fail != nil {
		for _, r := range b.Records {
			if err = o.fail(r); err != nil {
				break
			}
		}
	}
	o.End(b, err == nil)
	return err
}

func keyedConfig(t *testing.T, conc int) processor.Config {
	cfg := testConfig(kafkatest.Name(t, "g"))
	cfg.Ordering, cfg.Concurrency, cfg.MaxInFlight = processor.OrderKey, conc, 300
	cfg.Batch.MaxRecords = 10
	return cfg
}

// TestKeyOrdering runs key ordering on a real group: every record of 200
// keys on 3 partitions handled, each key's records in offset order with no
// two calls of a key at once, at most processor.concurrency calls per
// partition, and the group's committed offset never past a record whose
// call has not returned (sampled while it runs), reaching the end.
func TestKeyOrdering(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		const parts, perPart, conc = 3, 1000, 8
		topic := randomKeysTopic(t, c, parts, perPart, 200)
		cfg := keyedConfig(t, conc)
		log := newOrderLog()
		adm := kafkatest.Admin(t, c.Brokers)
		runOne(t, c.Brokers, topic, cfg, log, processor.Options{}, func(*processor.Processor) bool {
			done := true
			for part := range int32(parts) {
				at, err := committedAt(context.Background(), adm, cfg.Group.ID, topic, part)
				if err != nil {
					t.Logf("reading the commit: %v", err)
					return false
				}
				if open := log.LowestOpen(part, perPart); at > open {
					t.Fatalf("partition %d committed %d past offset %d, whose call has not returned", part, at, open)
				}
				done = done && at == perPart
			}
			return done
		})
		log.Check(t, conc, false)
		if log.MaxCalls() < 2 {
			t.Fatalf("at most %d call per partition at once: no concurrency", log.MaxCalls())
		}
	})
}

// TestKeyOrderingFailingKey: a key whose record keeps failing (retried)
// does not hold the other keys; the commit stays at its record until it
// succeeds, then reaches the end.
func TestKeyOrderingFailingKey(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := badKeyTopic(t, c, 400, 40, 50)
		cfg := keyedConfig(t, 8)
		cfg.MaxInFlight = 1000
		cfg.Retry = processor.RetryConfig{MaxAttempts: 100000, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 5 * time.Millisecond}
		heal := make(chan struct{})
		log := newOrderLog()
		log.fail = func(r *kgo.Record) error {
			if string(r.Key) != "bad" {
				return nil
			}
			select {
			case <-heal:
				return nil
			default:
				return errors.New("downstream refuses this key")
			}
		}
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, log, processor.Options{})
		stop := start(t, p, 60*time.Second)
		adm := kafkatest.Admin(t, c.Brokers)
		// The keys not sharing the bad key's sub-lane (about 7/8 of the 349
		// records past it) are not held by it.
		kafkatest.Eventually(t, 60*time.Second, "records of other keys handled past the failing one", func() bool {
			return log.ReturnedPast(0, 50) >= 250
		})
		at, err := committedAt(context.Background(), adm, cfg.Group.ID, topic, 0)
		if err != nil || at > 50 {
			t.Fatalf("committed %d (%v) past the failing record at 50", at, err)
		}
		close(heal)
		waitCommitted(t, adm, cfg.Group.ID, topic, map[int32]int64{0: 400}, "the end after the key healed", nil)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		log.Check(t, 8, true)
	})
}

// TestKeyOrderingHalt: with on_failure=halt, a key's record that fails
// every attempt halts the partition at its offset: the group's commit
// reaches that offset (the records below it, on other sub-lanes, finish)
// and stops there, and Halted names it.
func TestKeyOrderingHalt(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := badKeyTopic(t, c, 300, 30, 120)
		cfg := keyedConfig(t, 8)
		cfg.OnFailure = processor.OnFailureHalt
		log := newOrderLog()
		log.fail = func(r *kgo.Record) error {
			if string(r.Key) == "bad" {
				return errors.New("poison")
			}
			return nil
		}
		p := mustNew(t, kcfg(c.Brokers, "solo"), topic, cfg, log, processor.Options{})
		stop := start(t, p, 60*time.Second)
		adm := kafkatest.Admin(t, c.Brokers)
		waitCommitted(t, adm, cfg.Group.ID, topic, map[int32]int64{0: 120}, "the commit at the halted record", func() bool {
			hs := p.Halted()
			return len(hs) == 1 && hs[0].Offset == 120
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if at, err := committedAt(context.Background(), adm, cfg.Group.ID, topic, 0); err != nil || at != 120 {
			t.Fatalf("committed %d (%v) after the stop; want 120", at, err)
		}
	})
}
