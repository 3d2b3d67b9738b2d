//go:build burrow

package lag_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/lag"
)

// TestCompareBurrow measures how long veltrix's lag monitor and LinkedIn's
// Burrow take to flag the same groups STOP, STALL and WARN on the real
// broker. It needs a running Burrow (scripts/burrow.sh compare starts one
// and runs this test; VELTRIX_BURROW_URL names it) and takes about three
// minutes, so it is behind the burrow build tag and out of the default run.
// It logs a table; docs/lag.md has the numbers of a run.
//
// Every scenario has its own topic (one partition) with a producer writing
// 20 records a second, and its own group; t0 is the moment the group's
// behaviour changes. veltrix runs at its defaults (lag.interval 10s,
// lag.window 10, lag.warn_time_lag 10s) and tuned (interval 1s); Burrow
// with its defaults except a window of 10 commits (scripts/burrow.sh).
func TestCompareBurrow(t *testing.T) {
	burrow := os.Getenv("VELTRIX_BURROW_URL")
	if burrow == "" {
		t.Fatal("VELTRIX_BURROW_URL is not set: run scripts/burrow.sh compare")
	}
	brokers := kafkatest.Real(t)
	prefix := kafkatest.Name(t, "cmp")
	const limit = 150 * time.Second // per scenario, after t0

	type scenario struct {
		name string
		want []string // statuses to time, in the order they should show
		// run drives the group: it returns when t0 has passed, sending t0
		// on the channel, and keeps the group's behaviour until ctx ends.
		run func(ctx context.Context, t *testing.T, topic, grp string, t0 chan<- time.Time)
	}
	consumer := func(t *testing.T, grp, topic string, opts ...kgo.Opt) *kgo.Client {
		return client(t, brokers, append([]kgo.Opt{kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	}
	// consume reads up to max records (all available when max < 0) and
	// commits what it read, once a second, until stop.
	consume := func(ctx context.Context, cl *kgo.Client, max int, stop <-chan struct{}) {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			if max < 0 {
				cl.PollFetches(pctx)
			} else {
				cl.PollRecords(pctx, max)
			}
			cancel()
			_ = cl.CommitUncommittedOffsets(ctx)
			select {
			case <-ctx.Done():
				return
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}
	warmup := 20 * time.Second
	scenarios := []scenario{
		{"STOP: consumer leaves the group", []string{"STOP"}, func(ctx context.Context, t *testing.T, topic, grp string, t0 chan<- time.Time) {
			cl := consumer(t, grp, topic)
			stop := make(chan struct{})
			// Half an interval off the 10 s monitor's polls, which start
			// with the test: a stop lands mid-interval on average.
			time.AfterFunc(warmup+5*time.Second, func() { close(stop) })
			consume(ctx, cl, -1, stop)
			cl.Close() // leaves the group
			t0 <- time.Now()
		}},
		{"STOP: consumer crashes (no leave, session timeout 45s)", []string{"STOP"}, func(ctx context.Context, t *testing.T, topic, grp string, t0 chan<- time.Time) {
			// A static member does not leave the group on Close: the
			// coordinator drops it only after its session times out, as
			// after a crash.
			cl := consumer(t, grp, topic, kgo.InstanceID(grp+"-static"))
			stop := make(chan struct{})
			time.AfterFunc(warmup, func() { close(stop) })
			consume(ctx, cl, -1, stop)
			cl.Close()
			t0 <- time.Now()
		}},
		{"STALL: member stays, commits the same offset every second", []string{"WARN", "STALL"}, func(ctx context.Context, t *testing.T, topic, grp string, t0 chan<- time.Time) {
			cl := consumer(t, grp, topic)
			stop := make(chan struct{})
			time.AfterFunc(warmup, func() { close(stop) })
			consume(ctx, cl, -1, stop)
			frozen := cl.CommittedOffsets()
			t0 <- time.Now()
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			for {
				cl.CommitOffsetsSync(ctx, frozen, nil)
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
			}
		}},
		{"WARN: consumer at half the producer's rate", []string{"WARN"}, func(ctx context.Context, t *testing.T, topic, grp string, t0 chan<- time.Time) {
			cl := consumer(t, grp, topic)
			t0 <- time.Now()
			consume(ctx, cl, 10, nil)
		}},
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr := producer(t, brokers)
	type row struct {
		scenario scenario
		group    string
		t0       time.Time
		first    map[string]map[string]time.Duration // watcher → status → time after t0
	}
	rows := make([]*row, len(scenarios))
	var mu sync.Mutex
	t0s := make([]chan time.Time, len(scenarios))
	for i, sc := range scenarios {
		topic, grp := fmt.Sprintf("%s-t%d", prefix, i), fmt.Sprintf("%s-g%d", prefix, i)
		kafkatest.CreateTopic(t, brokers, topic, 1)
		rows[i] = &row{scenario: sc, group: grp, first: map[string]map[string]time.Duration{}}
		t0s[i] = make(chan time.Time, 1)
		go func() { // 20 records a second, stamped now
			tk := time.NewTicker(50 * time.Millisecond)
			defer tk.Stop()
			for {
				pr.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}, nil)
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
			}
		}()
		go sc.run(ctx, t, topic, grp, t0s[i])
	}

	// The watchers: two veltrix monitors, and Burrow over HTTP.
	record := func(watcher string, i int, status string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		r := rows[i]
		if r.t0.IsZero() {
			return
		}
		if r.first[watcher] == nil {
			r.first[watcher] = map[string]time.Duration{}
		}
		if _, seen := r.first[watcher][status]; !seen {
			r.first[watcher][status] = at.Sub(r.t0)
		}
	}
	watchers := map[string]lag.Config{}
	def := lag.DefaultConfig()
	def.Groups = "^" + prefix
	watchers["veltrix (10s)"] = def
	fast := def
	fast.Interval = time.Second
	watchers["veltrix (1s)"] = fast
	for name, cfg := range watchers {
		m, err := lag.New(client(t, brokers), cfg, lag.Options{})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = m.Run(ctx) }()
		go func() {
			tk := time.NewTicker(100 * time.Millisecond)
			defer tk.Stop()
			var last time.Time
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
				}
				s := m.Latest()
				if s == nil || s.At.Equal(last) {
					continue
				}
				last = s.At
				for i, r := range rows {
					if g, ok := s.Group(r.group); ok {
						// The snapshot is published when the poll ends.
						record(name, i, g.Status.String(), time.Now())
						for _, p := range g.Partitions {
							record(name, i, p.Status.String(), time.Now())
						}
					}
				}
			}
		}()
	}
	go func() {
		tk := time.NewTicker(500 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			for i, r := range rows {
				for _, st := range burrowStatuses(ctx, burrow, r.group) {
					record("Burrow", i, st, time.Now())
				}
			}
		}
	}()

	for i := range rows {
		select {
		case t0 := <-t0s[i]:
			mu.Lock()
			rows[i].t0 = t0
			mu.Unlock()
		case <-time.After(time.Minute):
			t.Fatalf("scenario %q did not start", scenarios[i].name)
		}
	}
	// Wait until every watcher flagged every wanted status, or the limit.
	names := []string{"veltrix (10s)", "veltrix (1s)", "Burrow"}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := true
		for _, r := range rows {
			for _, w := range names {
				for _, st := range r.scenario.want {
					if _, ok := r.first[w][st]; !ok {
						done = false
					}
				}
			}
		}
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(time.Second)
	}
	cancel()

	mu.Lock()
	defer mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\n| scenario | flag | %s |\n|---|---|---|---|---|\n", strings.Join(names, " | "))
	for _, r := range rows {
		for _, st := range r.scenario.want {
			fmt.Fprintf(&b, "| %s | %s |", r.scenario.name, st)
			for _, w := range names {
				if d, ok := r.first[w][st]; ok {
					fmt.Fprintf(&b, " %.1f s |", d.Seconds())
				} else {
					fmt.Fprintf(&b, " not in %s |", limit)
				}
			}
			b.WriteString("\n")
		}
	}
	t.Log(b.String())
	for _, r := range rows {
		t.Logf("%s: every status seen after t0: %v", r.scenario.name, r.first)
	}
}

// burrowStatuses returns the group's status and its partitions' statuses
// as Burrow reports them now; none when Burrow does not know the group.
func burrowStatuses(ctx context.Context, base, group string) []string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v3/kafka/local/consumer/"+group+"/lag", nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Status struct {
			Status     string `json:"status"`
			Partitions []struct {
				Status string `json:"status"`
			} `json:"partitions"`
		} `json:"status"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Status.Status == "" || body.Status.Status == "NOTFOUND" {
		return nil
	}
	out := []string{body.Status.Status}
	for _, p := range body.Status.Partitions {
		out = append(out, p.Status)
	}
	return out
}
