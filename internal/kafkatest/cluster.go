package kafkatest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnvCluster names the variable holding the three-node cluster's addresses,
// as `scripts/kafka.sh start-cluster` (or status-cluster) prints them.
const EnvCluster = "VELTRIX_TEST_CLUSTER"

// Nodes is the three-node KRaft cluster of `scripts/kafka.sh start-cluster`,
// whose node N is broker N. Its methods aim a fault at one node through the
// script, which must see the same KAFKA_CLUSTER_* environment as the one
// that started the cluster (the test inherits it).
type Nodes struct {
	Brokers []string
	script  string
}

// RealCluster returns the three-node cluster named by VELTRIX_TEST_CLUSTER,
// or skips the test loudly; in CI (CI=true) a missing cluster is a failure,
// never a skip.
func RealCluster(t testing.TB) *Nodes {
	t.Helper()
	v := os.Getenv(EnvCluster)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: the three-broker tests must run in CI (use scripts/test.sh)", EnvCluster)
		}
		t.Skipf("SKIPPING three-broker test: %s is not set; export %s=\"$(scripts/kafka.sh start-cluster)\"", EnvCluster, EnvCluster)
	}
	script, err := scriptPath()
	if err != nil {
		t.Fatal(err)
	}
	return &Nodes{Brokers: strings.Split(v, ","), script: script}
}

// Node runs `scripts/kafka.sh node ID ACTION`: kill (SIGKILL), stop
// (SIGSTOP), cont (SIGCONT), term (a graceful stop), start (on its data,
// returning once it serves clients) or restart (term, then start).
func (n *Nodes) Node(id int32, action string) error {
	out, err := exec.Command(n.script, "node", strconv.Itoa(int(id)), action).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka.sh node %d %s: %w\n%s", id, action, err, out)
	}
	return nil
}

// Heal continues a stopped node and starts a dead one (on its data), and
// returns once all three serve clients: what a scenario that failed midway
// leaves is mended before the next one.
func (n *Nodes) Heal() error {
	out, err := exec.Command(n.script, "start-cluster").CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka.sh start-cluster: %w\n%s", err, out)
	}
	return nil
}

// PartitionState is one partition as a fresh metadata answer shows it.
type PartitionState struct {
	Topic     string
	Partition int32
	Leader    int32
	Replicas  []int32
	ISR       []int32
	Err       error
}

// Full says every replica is in sync and there is a leader.
func (p PartitionState) Full() bool {
	return p.Err == nil && p.Leader >= 0 && len(p.ISR) == len(p.Replicas)
}

// ClusterState is what one metadata request says of the cluster.
type ClusterState struct {
	Brokers    []int32 // the brokers the answer lists, sorted
	Controller int32
	Partitions []PartitionState // of the topics asked for, by topic then partition
}

// Describe sends one metadata request of its own for topics (none: the
// brokers only). kadm answers broker lists and topics from the client's
// metadata cache, which can be minutes old after a broker died; a
// kmsg.MetadataRequest issued directly always asks a broker.
func Describe(ctx context.Context, cl *kgo.Client, topics ...string) (ClusterState, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return ClusterState{}, fmt.Errorf("requesting metadata: %w", err)
	}
	st := ClusterState{Controller: resp.ControllerID}
	for _, b := range resp.Brokers {
		st.Brokers = append(st.Brokers, b.NodeID)
	}
	slices.Sort(st.Brokers)
	for _, t := range resp.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			st.Partitions = append(st.Partitions, PartitionState{Topic: name, Partition: -1, Leader: -1, Err: err})
			continue
		}
		for _, p := range t.Partitions {
			st.Partitions = append(st.Partitions, PartitionState{Topic: name, Partition: p.Partition, Leader: p.Leader,
				Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR), Err: kerr.ErrorForCode(p.ErrorCode)})
		}
	}
	slices.SortFunc(st.Partitions, func(a, b PartitionState) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return st, nil
}

// WaitInSync waits, at most timeout, until the cluster lists brokers
// brokers and every partition of topics has a leader and all its replicas
// in sync, asking with fresh metadata requests. On timeout the error says
// which partition was last short.
func WaitInSync(ctx context.Context, cl *kgo.Client, brokers int, timeout time.Duration, topics ...string) (ClusterState, error) {
	deadline := time.Now().Add(timeout)
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := Describe(rctx, cl, topics...)
		cancel()
		why := err
		if err == nil {
			why = st.short(brokers, len(topics))
		}
		if why == nil {
			return st, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return st, fmt.Errorf("the cluster was not in sync within %s: %w", timeout, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// short says why st is not a cluster of brokers brokers with every
// partition of its topics in sync, or nil.
func (st ClusterState) short(brokers, topics int) error {
	if len(st.Brokers) != brokers {
		return fmt.Errorf("%d brokers %v listed, want %d", len(st.Brokers), st.Brokers, brokers)
	}
	seen := map[string]bool{}
	for _, p := range st.Partitions {
		seen[p.Topic] = true
		if !p.Full() {
			return fmt.Errorf("%s partition %d: leader %d, replicas %v, in sync %v, error %v", p.Topic, p.Partition, p.Leader, p.Replicas, p.ISR, p.Err)
		}
	}
	if len(seen) < topics {
		return fmt.Errorf("%d of %d topics in the answer", len(seen), topics)
	}
	return nil
}
