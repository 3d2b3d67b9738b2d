// Package kafkatest runs a test against every cluster the suite has: the
// embedded one always, and the real Apache Kafka broker whose address is in
// VELTRIX_TEST_BROKERS (scripts/test.sh starts it and sets it). With
// CI=true a missing real broker fails the test instead of skipping it.
package kafkatest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/embedded"
)

// EnvBrokers names the variable holding the real broker's address.
const EnvBrokers = "VELTRIX_TEST_BROKERS"

// Cluster is one cluster a test runs against.
type Cluster struct {
	Name    string   // embedded or kafka
	Brokers []string // bootstrap addresses
	Real    bool     // a real Apache Kafka broker
}

// Run runs fn as a subtest once per cluster: "embedded" on a fresh
// in-process cluster, and "kafka" on the real broker.
func Run(t *testing.T, fn func(t *testing.T, c Cluster)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) {
		c, err := embedded.Start(embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		fn(t, Cluster{Name: "embedded", Brokers: c.Addrs()})
	})
	t.Run("kafka", func(t *testing.T) {
		brokers := Real(t)
		fn(t, Cluster{Name: "kafka", Brokers: brokers, Real: true})
	})
}

// Real returns the real broker's addresses, or skips the test loudly; in CI
// (CI=true) a missing broker is a failure, never a skip.
func Real(t testing.TB) []string {
	t.Helper()
	v := os.Getenv(EnvBrokers)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: the real-broker tests must run in CI (use scripts/test.sh)", EnvBrokers)
		}
		t.Skipf("SKIPPING real-broker test: %s is not set; run scripts/test.sh to start a real Kafka broker", EnvBrokers)
	}
	return strings.Split(v, ",")
}

var seq atomic.Int64

var unsafe = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Name returns a topic or group name unique to this test and run, so tests
// share one real broker without seeing each other's data.
func Name(t testing.TB, what string) string {
	n := unsafe.ReplaceAllString(t.Name(), "-")
	if len(n) > 100 {
		n = n[len(n)-100:]
	}
	return fmt.Sprintf("%s-%s-%d-%d", what, n, time.Now().UnixNano()%1e9, seq.Add(1))
}

// Admin returns an admin client for brokers, closed at test end.
func Admin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// CreateTopic creates topic with partitions partitions.
func CreateTopic(t testing.TB, brokers []string, topic string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := Admin(t, brokers).CreateTopic(ctx, int32(partitions), -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
}

// Eventually polls cond every 50ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CleanEnv is the process environment without VELTRIX_ settings, for child
// veltrix processes whose configuration a test spells out in flags.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VELTRIX_") {
			env = append(env, kv)
		}
	}
	return env
}
