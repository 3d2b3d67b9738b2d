package processor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// keyedProcessor is a processor without a client running one partition's
// lane in the given ordering; fetch pausing and commits are no-ops, the
// lane's finished offset is what a commit would carry.
func keyedProcessor(t *testing.T, order Ordering, concurrency int, h Handler, tune func(*Config)) (*Processor, *lane) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Ordering, cfg.Concurrency = order, concurrency
	cfg.Retry = RetryConfig{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	p := newProcessor(kafka.Config{}, "t", cfg, h, Options{})
	p.mu.Lock()
	l := p.startLane(topicPart{"t", 0})
	p.mu.Unlock()
	t.Cleanup(func() {
		p.release([]*lane{l}, 10*time.Second, false)
	})
	return p, l
}

// keyedRecords returns n records of partition 0 from offset 0 over keys
// distinct keys; every tenth record has no key.
func keyedRecords(n, keys int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	now := time.Now()
	for i := range recs {
		r := &kgo.Record{Topic: "t", Offset: int64(i), Value: []byte("v"), Timestamp: now}
		if i%10 != 9 {
			r.Key = []byte(fmt.Sprintf("k%d", rand.IntN(keys)))
		}
		recs[i] = r
	}
	return recs
}

func finishedAt(l *lane) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.hasFinish {
		return -1
	}
	return l.finished.Offset
}

// TestKeyedOrdering runs records over 50 keys on 4 sub-lanes: each key's
// records reach the handler in offset order with no call of a key
// overlapping another of it, calls run concurrently up to the bound and not
// past it, and the finished offset (what a commit carries) never passes a
// record whose call has not returned.
func TestKeyedOrdering(t *testing.T) {
	const n, conc = 3000, 4
	log := NewKeyLog()
	h := HandlerFunc(func(_ context.Context, b *Batch) error {
		log.Start(b)
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		log.End(b, true)
		return nil
	})
	_, l := keyedProcessor(t, OrderKey, conc, h, func(c *Config) {
		c.Batch.MaxRecords = 7
		c.MaxInFlight = 200
	})
	recs := keyedRecords(n, 50)
	for i := 0; i < n; i += 100 {
		l.push(recs[i : i+100])
	}
	for {
		f := finishedAt(l) // read first: the lowest open offset read after it can only be higher
		if open := log.LowestOpen(0, n); f > open {
			t.Fatalf("finished offset %d passes offset %d, whose call has not returned", f, open)
		}
		if f == n {
			break
		}
		time.Sleep(time.Millisecond) // sampling pace of the invariant, not a wait for a condition
	}
	log.Check(t, conc, false)
	if log.MaxCalls() < 2 {
		t.Fatalf("at most %d calls ran at once; want 2 to %d", log.MaxCalls(), conc)
	}
}

// TestKeyedNoneOrdering checks none ordering: every record handled, calls
// concurrent up to the bound, the finished offset reaching the end.
func TestKeyedNoneOrdering(t *testing.T) {
	const n, conc = 1000, 8
	log := NewKeyLog()
	h := HandlerFunc(func(_ context.Context, b *Batch) error {
		log.Start(b)
		time.Sleep(200 * time.Microsecond)
		log.End(b, true)
		return nil
	})
	_, l := keyedProcessor(t, OrderNone, conc, h, func(c *Config) { c.Batch.MaxRecords = 5 })
	l.push(keyedRecords(n, 1))
	kafkatest.Eventually(t, 30*time.Second, "every record finished", func() bool { return finishedAt(l) == n })
	if open := log.LowestOpen(0, n); open != n {
		t.Fatalf("offset %d never returned", open)
	}
	if mc := log.MaxCalls(); mc > conc || mc < 2 {
		t.Fatalf("at most %d calls ran at once; want 2 to %d", mc, conc)
	}
}

// otherSubLane returns keys that route to a different sub-lane than bad.
func otherSubLane(bad string, conc, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		k := fmt.Sprintf("good%d", i)
		if keyHash([]byte(k))%uint64(conc) != keyHash([]byte(bad))%uint64(conc) {
			out = append(out, k)
		}
	}
	return out
}

// TestKeyedFailingKeyDoesNotBlockOthers: a key whose records keep failing
// (retrying with backoff) holds its own sub-lane only; the records of keys
// on the other sub-lanes are all handled meanwhile, and the finished offset
// stays at the failing record.
func TestKeyedFailingKeyDoesNotBlockOthers(t *testing.T) {
	const conc = 4
	good := otherSubLane("bad", conc, 20)
	recs := make([]*kgo.Record, 0, 401)
	for i := range 400 {
		key := good[i%len(good)]
		if i == 10 {
			key = "bad"
		}
		recs = append(recs, &kgo.Record{Topic: "t", Offset: int64(i), Key: []byte(key), Timestamp: time.Now()})
	}
	heal := make(chan struct{})
	var mu sync.Mutex
	handled := map[int64]bool{}
	h := HandlerFunc(func(_ context.Context, b *Batch) error {
		for _, r := range b.Records {
			if string(r.Key) == "bad" {
				select {
				case <-heal:
				default:
					return errors.New("downstream refuses this key")
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range b.Records {
			handled[r.Offset] = true
		}
		return nil
	})
	_, l := keyedProcessor(t, OrderKey, conc, h, func(c *Config) {
		c.Retry = RetryConfig{MaxAttempts: 1000, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	})
	l.push(recs)
	kafkatest.Eventually(t, 30*time.Second, "every other key's record handled while the bad key retries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			if string(r.Key) != "bad" && !handled[r.Offset] {
				return false
			}
		}
		return true
	})
	if f := finishedAt(l); f > 10 {
		t.Fatalf("finished offset %d passes the failing record at 10", f)
	}
	close(heal)
	kafkatest.Eventually(t, 30*time.Second, "the healed key finished too", func() bool { return finishedAt(l) == 400 })
}

// TestKeyedHalt: with on_failure=halt, a key's record that fails every
// attempt halts the partition at its offset: the records below it on other
// sub-lanes are still handled, so the commit reaches it exactly and notes the
// halt; nothing past it is handed over afterwards.
func TestKeyedHalt(t *testing.T) {
	const conc, n, badAt = 4, 300, 150
	good := otherSubLane("bad", conc, 20)
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		key := good[i%len(good)]
		if i == badAt {
			key = "bad"
		}
		recs = append(recs, &kgo.Record{Topic: "t", Offset: int64(i), Key: []byte(key), Timestamp: time.Now()})
	}
	release := make(chan struct{})
	var mu sync.Mutex
	var halted bool
	var after []int64 // records past the halt handed over after it
	var p *Processor
	h := HandlerFunc(func(_ context.Context, b *Batch) error {
		for _, r := range b.Records {
			if string(r.Key) == "bad" {
				return errors.New("poison")
			}
		}
		if b.Records[0].Offset < badAt {
			<-release // the records below the halt are still running when it comes
		}
		mu.Lock()
		defer mu.Unlock()
		if halted {
			for _, r := range b.Records {
				if r.Offset > badAt {
					after = append(after, r.Offset)
				}
			}
		}
		return nil
	})
	p, l := keyedProcessor(t, OrderKey, conc, h, func(c *Config) {
		c.OnFailure = OnFailureHalt
		c.Batch.MaxRecords = 10
		c.MaxInFlight = n
	})
	l.push(recs)
	kafkatest.Eventually(t, 30*time.Second, "the partition halted", func() bool { return len(p.Halted()) == 1 })
	mu.Lock()
	halted = true
	mu.Unlock()
	if f := finishedAt(l); f >= badAt {
		t.Fatalf("finished offset %d reached the halt while records below it run", f)
	}
	close(release)
	kafkatest.Eventually(t, 30*time.Second, "the commit offset at the halted record", func() bool {
		eo, ok := l.uncommitted()
		return ok && eo.Offset == badAt
	})
	if hs := p.Halted(); hs[0].Offset != badAt {
		t.Fatalf("halted at %d, want %d", hs[0].Offset, badAt)
	}
	mu.Lock()
	defer mu.Unlock()
	// A batch past the halt taken before it may finish; none taken after.
	if len(after) > conc*10 {
		t.Fatalf("%d records past the halt handed over after it", len(after))
	}
}

// TestIdleLanesHoldNoRecords: once every record is finished, neither the
// partition's lane nor any sub-lane keeps record pointers in its reused
// batch buffer. Kept there, each record pinned its whole fetch response:
// after a key-ordering drain, idle, the heap still held ~125 MB against
// ~15 MB in partition ordering (BENCHMARKS.md, ordering modes).
func TestIdleLanesHoldNoRecords(t *testing.T) {
	for _, order := range []Ordering{OrderPartition, OrderKey} {
		t.Run(string(order), func(t *testing.T) {
			const n = 500
			p, l := keyedProcessor(t, order, 4, HandlerFunc(func(context.Context, *Batch) error { return nil }),
				func(c *Config) { c.Batch.MaxRecords = 7 })
			l.push(keyedRecords(n, 20))
			kafkatest.Eventually(t, 30*time.Second, "every record finished", func() bool { return finishedAt(l) == n })
			lanes := []*lane{l}
			if l.k != nil {
				lanes = append(lanes, l.k.subs...)
			}
			// Released and stopped, the lanes' goroutines have returned:
			// their buffers can be read without a race.
			p.release([]*lane{l}, 10*time.Second, false)
			for _, x := range lanes {
				<-x.done
				for i, r := range x.batch[:cap(x.batch)] {
					if r != nil {
						t.Fatalf("a lane's batch buffer still holds record %d at index %d", r.Offset, i)
					}
				}
			}
		})
	}
}
