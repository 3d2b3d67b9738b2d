package faults

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

var (
	full   = flag.Bool("faults.full", false, "run the scenarios at full scale (scripts/faults.sh)")
	report = flag.String("faults.report", "", "write the results table to this Markdown file")
	only   = flag.String("faults.only", "", "run only scenarios whose name contains this")
)

var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "veltrix-faults")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "veltrix")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/veltrix").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building veltrix: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	resultsMu sync.Mutex
	results   []Result
)

// TestFaults runs every scenario on the embedded cluster and on the real
// broker, and asserts each one's delivery guarantees.
func TestFaults(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		for _, sc := range Scenarios {
			if *only != "" && !strings.Contains(sc.Name, *only) {
				continue
			}
			t.Run(sc.Name, func(t *testing.T) {
				env := &Env{Bin: bin, Brokers: c.Brokers, Cluster: c.Name, Full: *full, Log: t.Logf}
				if sc.Name == "broker-outage" {
					if !c.Real {
						t.Skip("the embedded cluster lives in this test process; an outage is tested on the real broker")
					}
					env.Brokers, env.RestartBroker = dedicatedBroker(t)
				}
				res, err := sc.Run(env)
				if err != nil {
					t.Fatalf("%s: %v (partial result %+v)", sc.Name, err, res)
				}
				t.Logf("%+v", res)
				resultsMu.Lock()
				results = append(results, res)
				resultsMu.Unlock()
				if !res.Pass {
					t.Errorf("%s failed its guarantees: %+v", sc.Name, res)
				}
			})
		}
	})
	if *report != "" {
		if err := writeReport(*report, results, *full); err != nil {
			t.Fatal(err)
		}
	}
}

// dedicatedBroker starts a real broker of this test's own on other ports,
// so stopping it disturbs no other test, and returns a restart function
// that keeps its data.
func dedicatedBroker(t *testing.T) ([]string, func(time.Duration) error) {
	t.Helper()
	env := append(os.Environ(), "KAFKA_RUN_DIR=/tmp/veltrix-kafka-faults", "KAFKA_PORT=29092",
		"KAFKA_CONTROLLER_PORT=29093", "KAFKA_KEEP_DATA=1")
	script := "../../scripts/kafka.sh"
	run := func(args ...string) error {
		cmd := exec.Command(script, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("kafka.sh %v: %v\n%s", args, err, out)
		}
		return nil
	}
	stopClean := func() {
		cmd := exec.Command(script, "stop")
		cmd.Env = append(env[:len(env)-1:len(env)-1], "KAFKA_KEEP_DATA=0")
		_ = cmd.Run()
	}
	stopClean()
	if err := run("start"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopClean)
	return []string{"127.0.0.1:29092"}, func(down time.Duration) error {
		if err := run("stop"); err != nil {
			return err
		}
		time.Sleep(down)
		return run("start")
	}
}
