package faults

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
)

var (
	full   = flag.Bool("faults.full", false, "run the scenarios at full scale (scripts/faults.sh)")
	report = flag.String("faults.report", "", "write the results table to this Markdown file")
	only   = flag.String("faults.only", "", "run only scenarios whose name contains this")
)

var (
	resultsMu sync.Mutex
	results   []Result
)

// TestFaults runs every scenario on the embedded cluster and on the real
// broker, and asserts each one's delivery guarantees. At test scale the
// scenarios marked Parallel run after the others, all at once: they mostly
// wait out timeouts, and t.Parallel would run only -parallel (GOMAXPROCS)
// of them at a time.
func TestFaults(t *testing.T) {
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		cluster := t
		// One dedicated real broker for broker-outage and then broker-wiped
		// (the last to use it: it runs after, and wipes it), started once:
		// a broker start costs a JVM start.
		dedicatedOnce := sync.OnceValues(func() (*kafkatest.Dedicated, error) { return kafkatest.NewDedicated(cluster) })
		run := func(sc Scenario, logf func(string, ...any)) outcome {
			env := &Env{Bin: bin, Brokers: c.Brokers, Cluster: c.Name, Full: *full, Log: logf}
			var err error
			switch sc.Name {
			case "broker-outage":
				if !c.Real {
					return outcome{skip: "the embedded cluster lives in this test process; an outage is tested on the real broker"}
				}
				var d *kafkatest.Dedicated
				if d, err = dedicatedOnce(); err == nil {
					env.Brokers, env.RestartBroker = d.Brokers, d.Restart
				}
			case "broker-wiped":
				// The embedded cluster as its own process (veltrix
				// broker), which keeps no data across a restart.
				if c.Real {
					var d *kafkatest.Dedicated
					if d, err = dedicatedOnce(); err == nil {
						env.Brokers, env.WipeBroker = d.Brokers, d.Wipe
					}
				} else {
					env.Brokers, env.WipeBroker, err = brokerProcess(cluster, bin)
				}
			}
			if err != nil {
				return outcome{err: err}
			}
			res, err := sc.Run(env)
			if errors.Is(err, errSkip) {
				return outcome{skip: res.Notes}
			}
			return outcome{res: res, err: err}
		}

		var later []Scenario
		for _, sc := range Scenarios {
			if *only != "" && !strings.Contains(sc.Name, *only) {
				continue
			}
			if sc.FullOnly && !*full && *only == "" {
				continue
			}
			if sc.Parallel && !*full {
				later = append(later, sc)
				continue
			}
			t.Run(sc.Name, func(t *testing.T) { check(t, sc, run(sc, t.Logf)) })
		}
		outs := make([]chan outcome, len(later))
		for i, sc := range later {
			outs[i] = make(chan outcome, 1)
			go func() {
				var logs logBuffer
				o := run(sc, logs.logf)
				o.logs = logs.lines()
				outs[i] <- o
			}()
		}
		for i, sc := range later {
			t.Run(sc.Name, func(t *testing.T) { check(t, sc, <-outs[i]) })
		}
	})
	runClusterScenarios(t, bin)
	if *report != "" {
		if err := writeReport(*report, results, *full); err != nil {
			t.Fatal(err)
		}
	}
}

// runClusterScenarios runs the scenarios of ClusterScenarios chosen by
// -faults.only, and of ExtendedClusterScenarios at full scale or when
// -faults.only names them, on the three-node cluster (VELTRIX_TEST_CLUSTER), one at a
// time: each loads all three brokers. Without the cluster they skip
// loudly, or fail with CI=true.
func runClusterScenarios(t *testing.T, bin string) {
	var chosen []Scenario
	for _, sc := range ClusterScenarios {
		if *only == "" || strings.Contains(sc.Name, *only) {
			chosen = append(chosen, sc)
		}
	}
	// The extended ones at full scale, or when -faults.only names them:
	// CI's time budget holds the three above only.
	for _, sc := range ExtendedClusterScenarios {
		if *only == "" && *full || *only != "" && strings.Contains(sc.Name, *only) {
			chosen = append(chosen, sc)
		}
	}
	if len(chosen) == 0 {
		return
	}
	t.Run(clusterName, func(t *testing.T) {
		nodes := kafkatest.RealCluster(t)
		for _, sc := range chosen {
			t.Run(sc.Name, func(t *testing.T) {
				env := &Env{Bin: bin, Brokers: nodes.Brokers, Cluster: clusterName, Full: *full, Nodes: nodes, Log: t.Logf}
				res, err := sc.Run(env)
				check(t, sc, outcome{res: res, err: err})
			})
		}
	})
}

// outcome is what running one scenario gave.
type outcome struct {
	res  Result
	err  error
	skip string   // why it did not run on this cluster
	logs []string // its log lines, when it ran outside its subtest
}

// check reports a scenario's outcome in its subtest and records its result.
func check(t *testing.T, sc Scenario, o outcome) {
	t.Helper()
	for _, line := range o.logs {
		t.Log(line)
	}
	if o.skip != "" {
		t.Skip(o.skip)
	}
	if o.err != nil {
		t.Fatalf("%s: %v (partial result %+v)", sc.Name, o.err, o.res)
	}
	t.Logf("%+v", o.res)
	resultsMu.Lock()
	results = append(results, o.res)
	resultsMu.Unlock()
	if !o.res.Pass {
		t.Errorf("%s failed its guarantees: %+v", sc.Name, o.res)
	}
}

// logBuffer keeps a scenario's log lines, with the time each was logged,
// until its subtest can print them.
type logBuffer struct {
	mu sync.Mutex
	l  []string
}

func (b *logBuffer) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.l = append(b.l, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.l...)
}

// brokerProcess runs the embedded cluster as a `veltrix broker` process of
// this test's own on a free port, stopped when t ends, and returns a
// function that restarts it on the same port without its data, as a broker
// that lost its disk.
func brokerProcess(t *testing.T, bin string) ([]string, func() error, error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	var mu sync.Mutex
	var cur *child.Process
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if cur != nil {
			cur.Kill()
			cur = nil
		}
	}
	start := func() error {
		p, err := child.Start("veltrix broker", exec.Command(bin, "broker", "--port", strconv.Itoa(port)))
		if err != nil {
			return err
		}
		mu.Lock()
		cur = p
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := p.WaitOutput(ctx, regexp.MustCompile("listening on")); err != nil {
			return fmt.Errorf("veltrix broker did not start on port %d: %w", port, err)
		}
		return nil
	}
	t.Cleanup(stop)
	if err := start(); err != nil {
		return nil, nil, err
	}
	return []string{fmt.Sprintf("127.0.0.1:%d", port)}, func() error {
		stop()
		return start()
	}, nil
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
