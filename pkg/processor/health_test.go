package processor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/server"
	"github.com/veltrix/veltrix/pkg/embedded"
	"github.com/veltrix/veltrix/pkg/processor"
)

// probes serves p's /readyz and /healthz as veltrix process does and
// returns a function that GETs a path, giving the status and the body's
// first line.
func probes(t *testing.T, p *processor.Processor) func(path string) (int, string) {
	t.Helper()
	srv, err := server.Start("127.0.0.1:0", prometheus.NewRegistry(), server.Probes{Ready: p.Readiness, Live: p.Live}, nil, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + srv.Addr()
	return func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
}

// watch polls until cond holds, failing after limit; every poll also checks
// that /healthz answers 200: no broker outage, lost session or unreadable
// topic may make a liveness probe restart the pod.
func watch(t *testing.T, get func(string) (int, string), limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if code, body := get("/healthz"); code != http.StatusOK {
			t.Fatalf("/healthz answered %d %q while waiting for %s", code, body, what)
		}
		if time.Since(start) > limit {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// outage is a cluster a test can take down and bring back with its data.
type outage struct {
	brokers     []string
	stop, start func() error
}

// TestReadinessFollowsTheCluster is the regression test for /readyz
// answering 200 while the broker was gone: it must turn 503 within a few
// heartbeat intervals of the broker stopping, naming why, and 200 again
// once the broker is back, while /healthz stays 200 throughout (a liveness
// probe must not restart every pod during an outage). The connection
// errors are logged once per streak, and the recovery once.
func TestReadinessFollowsTheCluster(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		c, err := embedded.Start(embedded.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(c.Addrs()[0])
		n, _ := strconv.Atoi(port)
		var mu sync.Mutex
		cur := c
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			cur.Close()
		})
		readinessOutage(t, outage{
			brokers: c.Addrs(),
			stop: func() error {
				mu.Lock()
				defer mu.Unlock()
				cur.Close()
				return nil
			},
			start: func() error {
				c, err := embedded.Start(embedded.Options{Port: n, DataDir: dir})
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				cur = c
				return nil
			},
		})
	})
	t.Run("kafka", func(t *testing.T) {
		d := kafkatest.StartDedicated(t)
		readinessOutage(t, outage{brokers: d.Brokers, stop: d.Stop, start: d.Start})
	})
}

func readinessOutage(t *testing.T, o outage) {
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, o.brokers, topic, 2)
	produce(t, o.brokers, topic, 20)
	cfg := testConfig(kafkatest.Name(t, "g"))
	var logs kafkatest.LogBuffer
	h := newRecorder(nil)
	p := mustNew(t, kcfg(o.brokers, "outage"), topic, cfg, h, processor.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	stop := start(t, p, 60*time.Second)
	get := probes(t, p)
	awaitReady(t, p, 60*time.Second)
	watch(t, get, 30*time.Second, "the first records handled", func() bool { return h.distinct() >= 20 })
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz answered %d %q with the cluster up", code, body)
	}

	if err := o.stop(); err != nil {
		t.Fatal(err)
	}
	var body string
	took := watch(t, get, 30*time.Second, "/readyz 503 with the broker gone", func() bool {
		var code int
		code, body = get("/readyz")
		return code == http.StatusServiceUnavailable
	})
	t.Logf("/readyz 503 %s after the broker stopped: %q", took.Round(time.Millisecond), body)
	if took > 15*time.Second {
		t.Errorf("/readyz took %s to turn 503, want a few heartbeat intervals", took)
	}
	// The first reason may be the lost session (the broker closed it on its
	// way down); the unreachable cluster follows, and stays while the
	// client retries its dials.
	unreachable := regexp.MustCompile(`no broker of the cluster has answered for ([0-9.]+m?s)`)
	watch(t, get, 30*time.Second, "/readyz saying the cluster has not answered for 5s", func() bool {
		code, body := get("/readyz")
		if code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz answered %d %q with the broker gone", code, body)
		}
		m := unreachable.FindStringSubmatch(body)
		if m == nil {
			return false
		}
		d, err := time.ParseDuration(m[1])
		return err == nil && d >= 5*time.Second
	})

	if err := o.start(); err != nil {
		t.Fatal(err)
	}
	took = watch(t, get, 90*time.Second, "/readyz 200 with the broker back", func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})
	t.Logf("/readyz 200 %s after the broker was started again", took.Round(time.Millisecond))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, "cannot connect to a broker"); n < 1 || n > 3 {
		t.Errorf("%d \"cannot connect\" lines, want one per broker address and streak:\n%s", n, out)
	}
	if !strings.Contains(out, "connected to the broker again") {
		t.Errorf("the recovered connection was not logged:\n%s", out)
	}
	t.Logf("%d log lines in all", strings.Count(out, "\n"))
}

// TestNotReadyAfterSessionLost is the regression test for /readyz staying
// 200 after the group session was lost: a static member removed from the
// group by an admin (as the coordinator ends a member's session) learns it
// at its next heartbeat and is not ready until it has rejoined. On kfake
// the rejoin is held back, so the 503 is shown to last until it happens.
func TestNotReadyAfterSessionLost(t *testing.T) {
	t.Run("kfake", func(t *testing.T) {
		c := kafkatest.Fake(t)
		var hold atomic.Bool
		c.ControlKey(kmsg.JoinGroup.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			if !hold.Load() {
				return nil, nil, false
			}
			resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp, nil, true
		})
		sessionLost(t, c.ListenAddrs(), &hold)
	})
	t.Run("kafka", func(t *testing.T) {
		sessionLost(t, kafkatest.Real(t), nil)
	})
}

func sessionLost(t *testing.T, brokers []string, hold *atomic.Bool) {
	topic := kafkatest.Name(t, "in")
	kafkatest.CreateTopic(t, brokers, topic, 2)
	cfg := testConfig(kafkatest.Name(t, "g"))
	cfg.Group.InstanceID = kafkatest.Name(t, "i")
	p := mustNew(t, kcfg(brokers, "lost"), topic, cfg, newRecorder(nil), processor.Options{})
	stop := start(t, p, 30*time.Second)
	get := probes(t, p)
	awaitReady(t, p, 30*time.Second)
	watch(t, get, 30*time.Second, "ready", p.Ready)

	// The window between the loss and the rejoin can be short on the real
	// broker: watch Readiness closely from now on.
	var sawLost atomic.Value
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := p.Readiness(); err != nil && strings.Contains(err.Error(), "was lost") {
				sawLost.CompareAndSwap(nil, err.Error())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { close(done); wg.Wait() }()
	if hold != nil {
		hold.Store(true)
	}
	resp, err := kafkatest.Admin(t, brokers).LeaveGroup(context.Background(), kadm.LeaveGroup(cfg.Group.ID).InstanceIDs(cfg.Group.InstanceID))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("removing the member from the group: %v", err)
	}
	watch(t, get, 30*time.Second, "the session loss seen by Readiness", func() bool { return sawLost.Load() != nil })
	t.Logf("not ready: %s", sawLost.Load())
	if hold != nil {
		// While the rejoin is held back, the member stays unready.
		for range 10 {
			if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "was lost") {
				t.Fatalf("/readyz answered %d %q before the member rejoined", code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		hold.Store(false)
	}
	took := watch(t, get, 60*time.Second, "/readyz 200 after the rejoin", func() bool {
		code, _ := get("/readyz")
		return code == http.StatusOK
	})
	t.Logf("ready again %s after the loss was seen", took.Round(time.Millisecond))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestNotReadyWhileTopicUnreadable is the regression test for /readyz
// staying 200 while the processor spun on UNKNOWN_TOPIC_ID (its input
// topic deleted and recreated, as a broker restarted without its data
// does): it is not ready from the first errors, the errors are logged once
// per streak with a count, not once per fetch, /healthz stays 200, and Run
// ends with ErrTopicGone after the rebalance timeout.
func TestNotReadyWhileTopicUnreadable(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		produce(t, c.Brokers, topic, 20)
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Group.RebalanceTimeout = 15 * time.Second
		var logs kafkatest.LogBuffer
		h := newRecorder(nil)
		p := mustNew(t, kcfg(c.Brokers, "unreadable"), topic, cfg, h, processor.Options{
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		get := probes(t, p)
		errc := make(chan error, 1)
		go func() { errc <- p.Run(context.Background()) }()
		watch(t, get, 30*time.Second, "the first records handled", func() bool { return h.distinct() >= 20 })

		adm := kafkatest.Admin(t, c.Brokers)
		if _, err := adm.DeleteTopics(context.Background(), topic); err != nil {
			t.Fatal(err)
		}
		kafkatest.Eventually(t, 30*time.Second, "the topic re-created", func() bool {
			r, err := adm.CreateTopics(context.Background(), 2, -1, nil, topic)
			return err == nil && r[topic].Err == nil
		})
		var body string
		took := watch(t, get, 30*time.Second, "/readyz 503 with the topic unreadable", func() bool {
			var code int
			code, body = get("/readyz")
			return code == http.StatusServiceUnavailable
		})
		t.Logf("/readyz 503 %s after the re-creation: %q", took.Round(time.Millisecond), body)
		if !strings.Contains(body, "unreadable") {
			t.Errorf("/readyz body %q does not say the topic is unreadable", body)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, processor.ErrTopicGone) {
				t.Fatalf("Run returned %v, want ErrTopicGone", err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("Run did not end within 60s")
		}
		out := logs.String()
		if n := strings.Count(out, "fetch error"); n > 10 {
			t.Fatalf("%d fetch error lines: repeats are not counted", n)
		}
		t.Logf("%d log lines in all, %d about fetch errors", strings.Count(out, "\n"), strings.Count(out, "fetch error"))
	})
}

// TestLiveFailsOnWedgedLane is the regression test for /healthz answering
// 200 whatever happened: a handler call that ignores its context and never
// returns wedges its partition, and once that has lasted longer than the
// rebalance timeout /healthz answers 503 naming the partition (while
// /readyz stays 200: the member still holds its session). When the call
// returns, /healthz is 200 again.
func TestLiveFailsOnWedgedLane(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "in")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		cfg := testConfig(kafkatest.Name(t, "g"))
		cfg.Group.RebalanceTimeout = 2 * time.Second
		cfg.HandlerTimeout = 200 * time.Millisecond
		release := make(chan struct{})
		var hung atomic.Int32
		hung.Store(-1)
		var hungNanos atomic.Int64 // when the call hung: a loaded machine may notice late
		h := processor.HandlerFunc(func(_ context.Context, b *processor.Batch) error {
			if hung.CompareAndSwap(-1, b.Partition) {
				hungNanos.Store(time.Now().UnixNano())
				<-release // ignores its context, as a handler stuck on a read without a deadline
			}
			return nil
		})
		var logs kafkatest.LogBuffer
		p := mustNew(t, kcfg(c.Brokers, "wedged"), topic, cfg, h, processor.Options{
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		stop := start(t, p, 30*time.Second)
		get := probes(t, p)
		awaitReady(t, p, 60*time.Second)
		produce(t, c.Brokers, topic, 40)
		kafkatest.Eventually(t, 30*time.Second, "a handler call hung", func() bool { return hungNanos.Load() != 0 })
		hungAt := time.Unix(0, hungNanos.Load())
		var body string
		kafkatest.Eventually(t, 20*time.Second, "/healthz 503", func() bool {
			var code int
			code, body = get("/healthz")
			return code == http.StatusServiceUnavailable
		})
		took := time.Since(hungAt)
		t.Logf("/healthz 503 %s after the call hung: %q", took.Round(time.Millisecond), body)
		if took < cfg.Group.RebalanceTimeout-100*time.Millisecond {
			t.Errorf("/healthz failed %s after the call hung, before the rebalance timeout %s", took, cfg.Group.RebalanceTimeout)
		}
		if want := "partition " + strconv.Itoa(int(hung.Load())) + " "; !strings.Contains(body, want) {
			t.Errorf("/healthz body %q does not name %q", body, want)
		}
		if code, body := get("/readyz"); code != http.StatusOK {
			t.Errorf("/readyz answered %d %q: a wedged lane is liveness's business", code, body)
		}
		close(release)
		kafkatest.Eventually(t, 20*time.Second, "/healthz 200 after the call returned", func() bool {
			code, _ := get("/healthz")
			return code == http.StatusOK
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		out := logs.String()
		if n := strings.Count(out, "the engine is wedged"); n != 1 {
			t.Errorf("%d \"wedged\" log lines, want 1:\n%s", n, out)
		}
	})
}
