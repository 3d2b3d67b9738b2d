// Package faults runs veltrix's fault scenarios — crashes, restarts,
// scaling, broker outages, poison records and overload — against real
// veltrix processes and a cluster, and measures what was lost, duplicated,
// reordered and dead-lettered, the peak lag, recovery time and peak memory.
// The test suite runs them at a small scale; scripts/faults.sh runs them at
// full scale and writes docs/RELIABILITY.md.
package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/event"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// Env is where a scenario runs.
type Env struct {
	Bin     string   // the veltrix binary
	Brokers []string // the cluster
	Cluster string   // "embedded" or "kafka", for the report
	Full    bool     // full scale (scripts/faults.sh) rather than test scale
	// RestartBroker stops the broker for the given time and starts it
	// again with its data; nil where the cluster cannot be restarted.
	RestartBroker func(down time.Duration) error
	// WipeBroker stops the broker and starts it again without its data
	// (new topic IDs, no groups); nil where the cluster cannot be.
	WipeBroker func() error
	// Nodes is the three-node cluster's fault control (kill, stop,
	// continue, restart one node); nil on a single-node cluster. Where it
	// is set, topics are created with three replicas and
	// min.insync.replicas 2.
	Nodes *kafkatest.Nodes
	// Ordering is the members' processor.ordering: "" for the default
	// (partition), "key" for the key-ordered variants (keyed.go).
	Ordering string
	Log      func(format string, args ...any)
}

// Result is one scenario run's measurements.
type Result struct {
	Scenario     string  `json:"scenario"`
	Cluster      string  `json:"cluster"`
	Produced     int64   `json:"produced"`
	Acked        int64   `json:"acknowledged"` // counted only where the scenario tracks acknowledgements (0 otherwise)
	Delivered    int64   `json:"delivered"`
	Lost         int64   `json:"lost"`
	Duplicated   int64   `json:"duplicated"`
	OutOfOrder   int64   `json:"out_of_order"`
	DeadLettered int64   `json:"dead_lettered"`
	Poison       int64   `json:"poison"`
	MaxLag       int64   `json:"max_lag"`
	RecoverySec  float64 `json:"recovery_seconds"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	Seconds      float64 `json:"seconds"`
	Pass         bool    `json:"pass"`
	Notes        string  `json:"notes"`
}

// run is one scenario's topics, group, members and probes.
type run struct {
	env          *Env
	in, out, dlq string
	group        string
	inputRF1     bool // the input with one replica (the cluster-rf1-leader-kill counter-example)
	adm          *kadm.Client
	cl           *kgo.Client

	mu      sync.Mutex
	members []*child.Process // every member that ever ran
	seqBase atomic.Int64     // events produced by earlier produce calls (one runs at a time)
	acked   *seqSet          // the events the brokers acknowledged, when tracked (trackAcks)
	maxLag  int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newRun(env *Env, name string) (*run, error) { return newRunTopics(env, name, false) }

// newRunRF1 is newRun with the input topic at replication factor 1 (and
// min.insync.replicas 1) on the three-node cluster.
func newRunRF1(env *Env, name string) (*run, error) { return newRunTopics(env, name, true) }

func newRunTopics(env *Env, name string, inputRF1 bool) (*run, error) {
	suffix := fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1e9)
	cl, err := newRunClient(env, name)
	if err != nil {
		return nil, err
	}
	r := &run{env: env, in: "in-" + suffix, out: "out-" + suffix, dlq: "dlq-" + suffix, group: "g-" + suffix,
		inputRF1: inputRF1, adm: kadm.NewClient(cl), cl: cl, stop: make(chan struct{})}
	if err := r.createTopics(); err != nil {
		cl.Close()
		return nil, err
	}
	r.wg.Add(1)
	go r.probe()
	return r, nil
}

// newRunClient is the run's client, for its producer and its reads. It
// dials as veltrix's own clients do (kafka.Options): on the cluster, a
// producer without the probing dialer keeps writing to a hung leader (a
// timed-out produce is retried on the same broker, without a metadata
// refresh), and the input would stop growing where the members cannot be
// judged.
func newRunClient(env *Env, name string) (*kgo.Client, error) {
	kc := kafka.DefaultConfig()
	kc.Brokers, kc.ClientID = env.Brokers, "faults-"+name
	opts, err := kafka.Options(kc)
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(opts, kgo.ProducerLinger(time.Millisecond), kgo.RecordDeliveryTimeout(5*time.Minute))...)
}

// createTopics creates the run's input, output and dead-letter topics: on
// the three-node cluster with three replicas and min.insync.replicas 2, so
// an acks=all write is on two brokers before it is acknowledged.
func (r *run) createTopics() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if r.env.Nodes == nil {
		return kafkatest.CreateTopics(ctx, r.env.Brokers, 6, r.in, r.out, r.dlq)
	}
	two, one := "2", "1"
	opts := []kgo.Opt{kgo.SeedBrokers(r.env.Brokers...)}
	if r.inputRF1 {
		if err := kafkatest.CreateReplicatedTopics(ctx, opts, 6, 1, map[string]*string{"min.insync.replicas": &one}, r.in); err != nil {
			return err
		}
		return kafkatest.CreateReplicatedTopics(ctx, opts, 6, 3, map[string]*string{"min.insync.replicas": &two}, r.out, r.dlq)
	}
	return kafkatest.CreateReplicatedTopics(ctx, opts, 6, 3, map[string]*string{"min.insync.replicas": &two}, r.in, r.out, r.dlq)
}

// trackAcks makes produce remember every acknowledged event, and verify
// count as lost those that left no trace: neither in the input (a broker
// that lost an acknowledged write) nor in the output or dead letters.
func (r *run) trackAcks() { r.acked = &seqSet{} }

// reconnect replaces the run's client after the broker lost its data: a
// client never adopts a recreated topic's new ID, so the old one could
// neither produce to nor list the new topics.
func (r *run) reconnect() error {
	cl, err := newRunClient(r.env, r.group+"-again")
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.cl
	r.cl, r.adm = cl, kadm.NewClient(cl)
	r.mu.Unlock()
	old.Close()
	return nil
}

// clients returns the run's current client and admin client.
func (r *run) clients() (*kgo.Client, *kadm.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cl, r.adm
}

// close stops every member and the probes.
func (r *run) close() {
	r.mu.Lock()
	ms := append([]*child.Process(nil), r.members...)
	r.mu.Unlock()
	for _, m := range ms {
		m.Kill()
	}
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.wg.Wait()
	cl, _ := r.clients()
	cl.Close()
}

// probe samples the group's lag and the members' peak RSS every 250ms.
func (r *run) probe() {
	defer r.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		for _, m := range r.members {
			m.PeakRSS() // a process's peak is known only from readings while it runs
		}
		r.mu.Unlock()
		if lag, err := r.lag(); err == nil {
			r.mu.Lock()
			r.maxLag = max(r.maxLag, lag)
			r.mu.Unlock()
		}
	}
}

// peakRSSMiB is the highest peak resident set read from every member that
// ran so far, exited or not.
func (r *run) peakRSSMiB() float64 {
	r.mu.Lock()
	ms := append([]*child.Process(nil), r.members...)
	r.mu.Unlock()
	var peak int64
	for _, m := range ms {
		peak = max(peak, m.PeakRSS())
	}
	return float64(peak) / (1 << 20)
}

// committed returns the group's committed offsets and the input's end
// offsets by partition.
func (r *run) committed() (map[int32]int64, map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, adm := r.clients()
	offs, err := adm.FetchOffsets(ctx, r.group)
	if err != nil {
		return nil, nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, r.in)
	if err != nil {
		return nil, nil, err
	}
	c, e := map[int32]int64{}, map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == r.in {
			c[o.Partition] = o.At
		}
	})
	ends.Each(func(o kadm.ListedOffset) { e[o.Partition] = o.Offset })
	return c, e, nil
}

// lag is the sum over partitions of end − committed.
func (r *run) lag() (int64, error) {
	c, e, err := r.committed()
	if err != nil {
		return 0, err
	}
	var lag int64
	for p, end := range e {
		lag += max(end-max(c[p], 0), 0)
	}
	return lag, nil
}

// drained waits until the group has committed everything, at most timeout.
// It fails at once when every member has exited, with their last words.
func (r *run) drained(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		lag, err := r.lag()
		if err == nil && lag == 0 {
			return nil
		}
		if dead := r.allExited(); dead != "" {
			return fmt.Errorf("group %s has lag %d and no live member:\n%s", r.group, lag, dead)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("group %s still has lag %d (err %v) after %s", r.group, lag, err, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// allExited returns the members' stderr tails when none is running, or "".
func (r *run) allExited() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, m := range r.members {
		if !m.Exited() {
			return ""
		}
		fmt.Fprintf(&b, "--- %s (exit %d, %v):\n%s\n", m.Name(), m.ExitCode(), m.Err(), tail(m.Stderr()))
	}
	return b.String()
}

// produce writes count events (0: until ctx ends) at rate per second,
// every poisonEvery-th one (0: none) with a value that is not JSON. It
// returns the acknowledged and poison counts.
func (r *run) produce(ctx context.Context, rate float64, count int64, poisonEvery int64) (acked, poison int64, err error) {
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	// Each call's events continue the run's numbering: a second call with
	// the same producer id must not reuse the first one's event ids.
	id := "faults-" + r.in
	var seq int64
	base := r.seqBase.Load()
	defer func() { r.seqBase.Add(seq) }()
	cl, _ := r.clients()
	for (count == 0 || seq < count) && ctx.Err() == nil {
		if rate > 0 {
			due := int64(time.Since(start).Seconds() * rate)
			if seq >= due {
				time.Sleep(time.Millisecond)
				continue
			}
		}
		rec := &kgo.Record{Topic: r.in, Key: []byte("key-" + strconv.FormatInt((base+seq)%97, 10))}
		eid := event.ID{Producer: id, Seq: uint64(base + seq)}
		if poisonEvery > 0 && seq%poisonEvery == poisonEvery-1 {
			rec.Value = []byte("not json " + strconv.FormatInt(seq, 10))
			poison++
		} else {
			rec.Value = event.Value(nil, 100, eid)
		}
		event.Stamp(rec, eid)
		cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			acked++
			if r.acked != nil {
				r.acked.add(eid.Seq)
			}
		})
		seq++
	}
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		return acked, poison, fmt.Errorf("flushing: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return acked, poison, firstErr
}

// verify reads input, output and dead letters and fills res.
func (r *run) verify(res *Result) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := verify.NewChecker()
	opts := []kgo.Opt{kgo.SeedBrokers(r.env.Brokers...)}
	// With acknowledgements tracked, which events the input and the
	// output or dead letters hold.
	var input, handled seqSet
	seen := func(set *seqSet, fn func(*kgo.Record)) func(*kgo.Record) {
		if r.acked == nil {
			return fn
		}
		return func(rec *kgo.Record) {
			fn(rec)
			if id, ok := event.Of(rec); ok {
				set.add(id.Seq)
			}
		}
	}
	for _, s := range []struct {
		topic string
		fn    func(*kgo.Record)
	}{{r.in, seen(&input, c.Input)}, {r.out, seen(&handled, c.Output)}, {r.dlq, seen(&handled, c.DeadLetter)}} {
		if _, err := verify.ReadTopic(ctx, s.topic, s.fn, opts...); err != nil {
			return err
		}
	}
	t := c.Report().Total
	res.Produced, res.Delivered, res.Lost = t.Produced, t.Delivered, t.Lost
	if r.acked != nil {
		// The checker counts as lost what the input holds and the output
		// lacks; an acknowledged event gone from the input is lost too.
		res.Acked = r.acked.len()
		r.acked.each(func(seq uint64) {
			if !input.has(seq) && !handled.has(seq) {
				res.Lost++
			}
		})
	}
	res.Duplicated, res.OutOfOrder, res.DeadLettered = t.Duplicated, t.OutOfOrder, t.DeadLettered
	res.PeakRSSMiB = r.peakRSSMiB()
	r.mu.Lock()
	res.MaxLag = r.maxLag
	r.mu.Unlock()
	return nil
}

// start runs `veltrix process` as a member of the run's group, forwarding
// input to output, with fast failure detection and the given extra flags.
func (r *run) start(name string, extra ...string) (*child.Process, error) {
	args := []string{"process", "--brokers", strings.Join(r.env.Brokers, ","),
		"--topic", r.in, "--group", r.group, "--handler", "forward", "--output-topic", r.out,
		"--processor.dlq_topic", r.dlq, "--metrics-addr", "",
		"--kafka.client_id", name,
		"--processor.group.session_timeout", "6s", "--processor.group.heartbeat_interval", "500ms",
		"--processor.commit.interval", "500ms", "--processor.fetch.max_wait", "100ms",
		"--processor.retry.initial_backoff", "5ms", "--processor.retry.max_backoff", "50ms",
		"--processor.group.rebalance_timeout", "20s"}
	args = append(append(args, r.env.memberFlags()...), extra...)
	m, err := child.Start(name, exec.Command(r.env.Bin, args...))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.members = append(r.members, m)
	r.mu.Unlock()
	return m, nil
}

// startMembers starts n members named prefix0 … prefix<n-1>, with the
// same extra flags.
func (r *run) startMembers(n int, prefix string, extra ...string) ([]*child.Process, error) {
	ms := make([]*child.Process, n)
	for i := range ms {
		m, err := r.start(fmt.Sprintf("%s%d", prefix, i), extra...)
		if err != nil {
			return nil, err
		}
		ms[i] = m
	}
	return ms, nil
}

// metricsURL returns the /metrics URL m printed at start (run with
// --metrics-addr 127.0.0.1:0), waiting at most timeout.
func metricsURL(m *child.Process, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return m.MetricsURL(ctx)
}

// waitLog waits at most timeout for m's output to match re.
func waitLog(m *child.Process, re *regexp.Regexp, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := m.WaitOutput(ctx, re)
	return err
}

// droppedOld matches each message with which a member says it dropped the
// partitions of a membership the coordinator had ended, committing nothing
// for them.
var droppedOld = regexp.MustCompile(`partitions lost without a clean revoke|rejoined the group as a new member|revoked partitions dropped uncommitted`)

// scrape returns the sum of every sample of the named metric at url, and
// whether the metric was there.
func scrape(url, name string) (float64, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false, err
	}
	var sum float64
	found := false
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, false, fmt.Errorf("parsing %q: %w", line, err)
		}
		sum += v
		found = true
	}
	return sum, found, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}
