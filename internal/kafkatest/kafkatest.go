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
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/embedded"
	"github.com/veltrix/veltrix/pkg/kafka"
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

// Fake starts a one-broker kfake cluster, closed at test end, for tests
// that inject broker answers with its Fault and ControlKey hooks (the
// embedded cluster hides them).
func Fake(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
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

// Client returns a client for brokers, closed at test end.
func Client(t testing.TB, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client for brokers, closed at test end.
func Admin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(Client(t, brokers))
}

// TopicWait bounds CreateTopic's wait for a new topic to be usable.
const TopicWait = 30 * time.Second

// CreateTopic creates topic with partitions partitions and returns once a
// fresh client's uncached metadata shows every partition with a leader, so
// the next client the test starts finds the topic usable. A topic still not
// usable after TopicWait fails the test, naming it and what the cluster
// last said. Every test that creates a topic goes through here.
func CreateTopic(t testing.TB, brokers []string, topic string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*TopicWait)
	defer cancel()
	if err := CreateTopics(ctx, brokers, partitions, topic); err != nil {
		t.Fatal(err)
	}
}

// CreateTopics is CreateTopic for many topics at once and for harness code
// with no testing.TB (the fault scenarios, the benchmarks).
func CreateTopics(ctx context.Context, brokers []string, partitions int, topics ...string) error {
	return CreateTopicsWith(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, partitions, topics...)
}

// CreateTopicsWith is CreateTopics with clients made from opts, which name
// the seed brokers and how to connect (TLS, SASL: SecureCluster.ClientOpts).
func CreateTopicsWith(ctx context.Context, opts []kgo.Opt, partitions int, topics ...string) error {
	return CreateReplicatedTopics(ctx, opts, partitions, -1, nil, topics...)
}

// CreateReplicatedTopics is CreateTopicsWith with a replication factor (-1:
// the cluster's default) and topic configs (e.g. min.insync.replicas).
func CreateReplicatedTopics(ctx context.Context, opts []kgo.Opt, partitions int, replicas int16, configs map[string]*string, topics ...string) error {
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	defer adm.Close()
	resps, err := kadm.NewClient(adm).CreateTopics(ctx, int32(partitions), replicas, configs, topics...)
	if err != nil {
		return fmt.Errorf("creating topics %s: %w", strings.Join(topics, ", "), err)
	}
	for _, name := range topics {
		r, ok := resps[name]
		switch {
		case !ok:
			return fmt.Errorf("creating topic %s: not in the broker's answer", name)
		case r.Err != nil:
			return fmt.Errorf("creating topic %s: %w", name, r.Err)
		}
	}
	// A client other than the one that created the topics, as the test's
	// next client will be: the creating broker may know a topic before the
	// one the next client asks.
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	defer cl.Close()
	if _, err := kafka.WaitTopics(ctx, cl, TopicWait, topics...); err != nil {
		return fmt.Errorf("created topic %s but it is not usable: %w", strings.Join(topics, ", "), err)
	}
	return nil
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
