package doctor

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/kafka"
)

// Cluster is a snapshot of what the live cluster says about the topics a
// configuration uses.
type Cluster struct {
	Brokers int              // brokers in the cluster
	Topics  map[string]Topic // by name, for every topic asked about
	// Inputs are the topics topic.pattern matched when the cluster was
	// inspected (InspectConfig); nil without a pattern.
	Inputs []string
}

// Topic is one topic as the cluster describes it.
type Topic struct {
	Name              string
	Exists            bool
	Partitions        int
	ReplicationFactor int    // the fewest replicas of any partition
	InSync            int    // the fewest in-sync replicas of any partition now
	ShortPartition    int32  // a partition with InSync replicas in sync
	MinInsyncReplicas int    // min.insync.replicas; 0 when unknown
	RetentionMs       int64  // retention.ms; -1 keeps data forever
	RetentionBytes    int64  // retention.bytes per partition; -1 is unbounded
	CleanupPolicy     string // cleanup.policy: delete, compact or both
}

// Inspect asks the cluster about topics: partitions and replicas from
// uncached metadata, durability and retention from the topic configs
// (effective values, broker defaults included). Only a topic the cluster
// answers UNKNOWN_TOPIC_OR_PARTITION for is missing (Exists false); any
// other error for a topic fails Inspect with an error naming the topic.
func Inspect(ctx context.Context, cl *kgo.Client, topics []string) (*Cluster, error) {
	adm := kadm.NewClient(cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing brokers: %w", err)
	}
	described, err := kafka.DescribeTopics(ctx, cl, topics...)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Brokers: len(brokers), Topics: map[string]Topic{}}
	var existing []string
	for _, name := range topics {
		t := Topic{Name: name, RetentionMs: -1, RetentionBytes: -1}
		if d, ok := described[name]; ok {
			t.Exists = true
			t.Partitions = len(d.Partitions)
			t.ReplicationFactor, t.InSync = -1, -1
			for _, p := range d.Partitions {
				if t.ReplicationFactor < 0 || len(p.Replicas) < t.ReplicationFactor {
					t.ReplicationFactor = len(p.Replicas)
				}
				if t.InSync < 0 || len(p.ISR) < t.InSync {
					t.InSync, t.ShortPartition = len(p.ISR), p.Partition
				}
			}
			existing = append(existing, name)
		}
		c.Topics[name] = t
	}
	if len(existing) == 0 {
		return c, nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return nil, fmt.Errorf("describing topic configs: %w", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describing configs of topic %q: %w", rc.Name, rc.Err)
		}
		t := c.Topics[rc.Name]
		for _, cf := range rc.Configs {
			v := cf.MaybeValue()
			switch cf.Key {
			case "min.insync.replicas":
				n, _ := strconv.Atoi(v)
				t.MinInsyncReplicas = n
			case "retention.ms":
				t.RetentionMs = parseLong(v)
			case "retention.bytes":
				t.RetentionBytes = parseLong(v)
			case "cleanup.policy":
				t.CleanupPolicy = v
			}
		}
		c.Topics[rc.Name] = t
	}
	return c, nil
}

func parseLong(v string) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
