package bench

import (
	"context"
	"flag"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
)

var eosCost = flag.Bool("eos.cost", false, "measure forward's cost of processor.guarantee=exactly_once against at_least_once (real broker; a few minutes)")

// eosMode is one forward setup measured by TestExactlyOnceCost.
type eosMode struct {
	name string
	args []string
}

// TestExactlyOnceCost measures `veltrix process --handler forward` with
// at_least_once and with exactly_once at transaction intervals of 100 ms
// and 1 s, on the real broker and on `veltrix broker` in its own process:
// the drain rate of a pre-filled input; the end-to-end latency (input
// record timestamp to the copy's arrival at a read_committed reader of the
// output) at 10k/s; and the highest of a ladder of rates the member
// sustains (every record forwarded within eosBehind of the last one's
// production), with its latency. Run with -eos.cost; it logs a table for
// BENCHMARKS.md.
func TestExactlyOnceCost(t *testing.T) {
	if !*eosCost {
		t.Skip("run with -eos.cost")
	}
	real := kafkatest.Real(t)
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	const (
		drainN   = 3_000_000
		rate     = 10_000
		duration = 10 * time.Second
	)
	modes := []eosMode{
		{"at_least_once", []string{"--processor.guarantee", "at_least_once"}},
		{"exactly_once 100ms", []string{"--processor.guarantee", "exactly_once", "--processor.transaction.interval", "100ms"}},
		{"exactly_once 1s", []string{"--processor.guarantee", "exactly_once", "--processor.transaction.interval", "1s"}},
	}
	ladder := []int{100_000, 200_000, 300_000, 450_000, 600_000}
	rows := []string{"| cluster | mode | drain records/s | at 10k/s: p50 / p99 / max ms | sustained max (events/s) | there: achieved, p50 / p99 / max ms | load (1 min) |",
		"|---|---|---:|---|---:|---|---|"}
	embedded, bp, err := startBroker(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bp.Kill)
	for _, c := range []cluster{{name: "kafka", brokers: real}, embedded} {
		for _, m := range modes {
			drain := eosDrain(t, bin, c.brokers, m, drainN)
			at := eosLatency(t, bin, c.brokers, m, rate, duration)
			var top eosProbe
			for _, r := range ladder {
				pr := eosLatency(t, bin, c.brokers, m, r, duration)
				t.Logf("%s %s: probe %d/s: achieved %.0f/s, p99 %.0f ms, last behind %s, passed %v", c.name, m.name, r, pr.achieved, pr.p99, pr.behind, pr.passed())
				if !pr.passed() {
					break
				}
				top = pr
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %.0f | %.0f / %.0f / %.0f | %d | %.0f, %.0f / %.0f / %.0f | %.1f |",
				c.name, m.name, drain, at.p50, at.p99, at.max, top.rate, top.achieved, top.p50, top.p99, top.max, load1()))
			t.Logf("%s", rows[len(rows)-1])
		}
	}
	t.Logf("\n%s", strings.Join(rows, "\n"))
}

// eosBehind is how far behind the last produced record a probe's last
// forwarded record may arrive, beyond the transaction interval, for the
// member to count as keeping up.
const eosBehind = 2 * time.Second

// eosWarmup is the start of each fixed-rate run whose latencies are not
// counted.
const eosWarmup = time.Second

// eosProbe is one fixed-rate run of TestExactlyOnceCost.
type eosProbe struct {
	rate          int
	interval      time.Duration // the mode's transaction interval (0: none)
	achieved      float64       // the generator's records/s
	p50, p99, max float64       // ms
	behind        time.Duration // last arrival − last production
}

// passed reports whether the generator reached 95% of the rate and the
// member kept up.
func (p eosProbe) passed() bool {
	return p.achieved >= 0.95*float64(p.rate) && p.behind <= p.interval+eosBehind
}

// eosProcess starts a forwarding member of group from in to out.
func eosProcess(t *testing.T, bin string, brokers []string, m eosMode, in, out, group string) *child.Process {
	args := append([]string{"process", "--brokers", strings.Join(brokers, ","), "--topic", in, "--group", group,
		"--handler", "forward", "--output-topic", out, "--metrics-addr", ""}, m.args...)
	p, err := child.Start("forward", exec.Command(bin, args...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// eosFill writes n 100-byte records to topic, as fast as acknowledged.
func eosFill(t *testing.T, cl *kgo.Client, topic string, n int) {
	val := []byte(strings.Repeat("x", 100))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for done := 0; done < n; {
		batch := make([]*kgo.Record, 0, 5000)
		for ; done < n && len(batch) < cap(batch); done++ {
			batch = append(batch, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(done % 1000)), Value: val})
		}
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// eosDrain returns the rate at which a member forwards a pre-filled input
// of n records: from the first record in the output (the group joined and
// work began) to the group's committed offsets covering the whole input
// (the last transaction or commit), so a commit interval's granularity is
// at the end only.
func eosDrain(t *testing.T, bin string, brokers []string, m eosMode, n int) float64 {
	in, out, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "out"), kafkatest.Name(t, "g")
	kafkatest.CreateTopic(t, brokers, in, 6)
	kafkatest.CreateTopic(t, brokers, out, 6)
	defer eosDrop(t, brokers, in, out)
	cl := kafkatest.Client(t, brokers)
	eosFill(t, cl, in, n)
	adm := kadm.NewClient(cl)
	p := eosProcess(t, bin, brokers, m, in, out, group)
	defer p.Kill()
	var first time.Time
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if first.IsZero() {
			ends, err := adm.ListEndOffsets(ctx, out)
			var written int64
			if err == nil {
				ends.Each(func(o kadm.ListedOffset) { written += o.Offset })
			}
			if written > 0 {
				first = time.Now()
			}
		} else {
			offs, err := adm.FetchOffsets(ctx, group)
			var sum int64
			if err == nil {
				offs.Each(func(o kadm.OffsetResponse) { sum += max(o.At, 0) })
			}
			if sum >= int64(n) {
				cancel()
				return float64(n) / time.Since(first).Seconds()
			}
		}
		cancel()
		if p.Exited() {
			t.Fatalf("%s: member exited: %s", m.name, p.Tail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not drained in 3 minutes", m.name)
	return 0
}

// eosLatency produces at rate for d while a member forwards, and returns
// the generator's achieved rate and the p50, p99 and max of (arrival at a
// read_committed reader of the output − the input record's timestamp,
// which forward keeps), in ms.
func eosLatency(t *testing.T, bin string, brokers []string, m eosMode, rate int, d time.Duration) eosProbe {
	in, out, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "out"), kafkatest.Name(t, "g")
	kafkatest.CreateTopic(t, brokers, in, 6)
	kafkatest.CreateTopic(t, brokers, out, 6)
	defer eosDrop(t, brokers, in, out)
	prod := eosClient(t, brokers, kgo.ProducerLinger(time.Millisecond), kgo.MaxBufferedRecords(1_000_000))
	rd := eosClient(t, brokers, kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(50*time.Millisecond))
	p := eosProcess(t, bin, brokers, m, in, out, group)
	defer p.Kill()
	defer prod.Close()
	defer rd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	// Wait until the member forwards: a primer reaches the reader.
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: in, Value: []byte("primer")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for got := false; !got; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: primer not forwarded", m.name)
		}
		got = fs.NumRecords() > 0
	}
	pr := eosProbe{rate: rate}
	if i := slices.Index(m.args, "--processor.transaction.interval"); i >= 0 {
		pr.interval, _ = time.ParseDuration(m.args[i+1])
	}
	want := int(float64(rate) * d.Seconds())
	lastSent := make(chan time.Time, 1)
	go func() {
		val := []byte(strings.Repeat("x", 100))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		per := rate / 100
		start := time.Now()
		for sent := 0; sent < want; {
			<-tick.C
			for i := 0; i < per && sent < want; i++ {
				prod.Produce(ctx, &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(sent % 1000)), Value: val}, nil)
				sent++
			}
		}
		now := time.Now()
		pr.achieved = float64(want) / now.Sub(start).Seconds()
		lastSent <- now
	}()
	// The first second is not measured: the member's first writes to each
	// output partition wait for its metadata and connections.
	warm := time.Now().Add(eosWarmup)
	lat := make([]float64, 0, want)
	var last time.Time
	got := 0
	for got < want {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d records forwarded", m.name, got, want)
		}
		last = time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if r.Timestamp.After(warm) {
				lat = append(lat, float64(last.Sub(r.Timestamp).Microseconds())/1e3)
			}
		})
	}
	pr.behind = last.Sub(<-lastSent)
	for _, l := range strings.Split(p.Output(), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			t.Logf("%s member: %s", m.name, l)
		}
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	pr.p50, pr.p99, pr.max = q(0.5), q(0.99), lat[len(lat)-1]
	return pr
}

// eosDrop deletes a measurement's topics, so that the ladder's tens of
// millions of records do not pile up in `veltrix broker`'s memory.
func eosDrop(t *testing.T, brokers []string, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kafkatest.Admin(t, brokers).DeleteTopics(ctx, topics...); err != nil {
		t.Logf("deleting %v: %v", topics, err)
	}
}

func eosClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
