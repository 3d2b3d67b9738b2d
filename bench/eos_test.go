package bench

import (
	"context"
	"flag"
	"fmt"
	"os/exec"
	"slices"
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
// and 1 s, on the real broker: the drain rate of a pre-filled input, and
// the end-to-end latency (input record timestamp to the copy's arrival at
// a read_committed reader of the output) at a fixed rate. Run with
// -eos.cost; it logs a table for BENCHMARKS.md.
func TestExactlyOnceCost(t *testing.T) {
	if !*eosCost {
		t.Skip("run with -eos.cost")
	}
	brokers := kafkatest.Real(t)
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	const (
		drainN   = 1_000_000
		rate     = 10_000
		duration = 10 * time.Second
	)
	modes := []eosMode{
		{"at_least_once", []string{"--processor.guarantee", "at_least_once"}},
		{"exactly_once 100ms", []string{"--processor.guarantee", "exactly_once", "--processor.transaction.interval", "100ms"}},
		{"exactly_once 1s", []string{"--processor.guarantee", "exactly_once", "--processor.transaction.interval", "1s"}},
	}
	rows := []string{"| mode | drain records/s | latency p50 ms | p99 ms | max ms |", "|---|---|---|---|---|"}
	for _, m := range modes {
		drain := eosDrain(t, bin, brokers, m, drainN)
		p50, p99, pmax := eosLatency(t, bin, brokers, m, rate, duration)
		rows = append(rows, fmt.Sprintf("| %s | %.0f | %.0f | %.0f | %.0f |", m.name, drain, p50, p99, pmax))
		t.Logf("%s: drain %.0f records/s; latency at %d/s p50 %.0f ms, p99 %.0f ms, max %.0f ms", m.name, drain, rate, p50, p99, pmax)
	}
	t.Logf("\n%s", strings.Join(rows, "\n"))
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
// of n records: from its first committed offset to its last.
func eosDrain(t *testing.T, bin string, brokers []string, m eosMode, n int) float64 {
	in, out, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "out"), kafkatest.Name(t, "g")
	kafkatest.CreateTopic(t, brokers, in, 6)
	kafkatest.CreateTopic(t, brokers, out, 6)
	cl := kafkatest.Client(t, brokers)
	eosFill(t, cl, in, n)
	adm := kadm.NewClient(cl)
	p := eosProcess(t, bin, brokers, m, in, out, group)
	defer p.Kill()
	var first time.Time
	var firstN int64
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		offs, err := adm.FetchOffsets(context.Background(), group)
		var sum int64
		if err == nil {
			offs.Each(func(o kadm.OffsetResponse) { sum += max(o.At, 0) })
		}
		now := time.Now()
		if sum > 0 && first.IsZero() {
			first, firstN = now, sum
		}
		if sum >= int64(n) {
			if now.Sub(first) <= 0 || int64(n) == firstN {
				t.Fatalf("%s: drained in one commit: make the input larger", m.name)
			}
			return float64(int64(n)-firstN) / now.Sub(first).Seconds()
		}
		if p.Exited() {
			t.Fatalf("%s: member exited: %s", m.name, p.Tail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not drained in 3 minutes", m.name)
	return 0
}

// eosLatency produces at rate for d while a member forwards, and returns
// the p50, p99 and max of (arrival at a read_committed reader of the output
// − the input record's timestamp, which forward keeps), in ms.
func eosLatency(t *testing.T, bin string, brokers []string, m eosMode, rate int, d time.Duration) (p50, p99, pmax float64) {
	in, out, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "out"), kafkatest.Name(t, "g")
	kafkatest.CreateTopic(t, brokers, in, 6)
	kafkatest.CreateTopic(t, brokers, out, 6)
	prod := eosClient(t, brokers, kgo.ProducerLinger(time.Millisecond))
	rd := eosClient(t, brokers, kgo.ConsumeTopics(out), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(50*time.Millisecond))
	p := eosProcess(t, bin, brokers, m, in, out, group)
	defer p.Kill()
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
	var lat []float64
	want := int(float64(rate) * d.Seconds())
	go func() {
		val := []byte(strings.Repeat("x", 100))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		per := rate / 100
		for sent := 0; sent < want; {
			<-tick.C
			for i := 0; i < per && sent < want; i++ {
				prod.Produce(ctx, &kgo.Record{Topic: in, Key: []byte(fmt.Sprint(sent % 1000)), Value: val}, nil)
				sent++
			}
		}
	}()
	for len(lat) < want {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d records forwarded", m.name, len(lat), want)
		}
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) { lat = append(lat, float64(now.Sub(r.Timestamp).Microseconds())/1e3) })
	}
	for _, l := range strings.Split(p.Output(), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			t.Logf("%s member: %s", m.name, l)
		}
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	return q(0.5), q(0.99), lat[len(lat)-1]
}

func eosClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
