package doctor

import (
	"fmt"
	"strconv"
)

// Durability checks that an acknowledged write survives a broker loss:
// acks=all with idempotence on the producer side, and on the cluster a
// replication factor above one and a min.insync.replicas that makes acks=all
// mean more than the leader — without making one broker's outage stop
// every write.
func Durability(in Input) []Finding {
	c := in.Config
	var out []Finding
	if c.Producer.Acks != "all" {
		out = append(out, Finding{Check: "durability", Severity: Warn,
			Why: fmt.Sprintf("producer.acks=%s acknowledges writes before any follower has them, so a leader failure loses acknowledged events", c.Producer.Acks),
			Fix: "producer.acks=all"})
	} else if !c.Producer.Idempotent {
		out = append(out, Finding{Check: "durability", Severity: Warn,
			Why: "producer.idempotent=false lets a retry after a lost acknowledgement write an event twice, out of order",
			Fix: "producer.idempotent=true"})
	}
	if c.Topic.Create && c.Topic.ReplicationFactor == 1 {
		out = append(out, Finding{Check: "durability", Severity: Warn,
			Why: "topic.replication_factor=1 creates topics with a single copy of every event: losing that broker's disk loses them",
			Fix: "topic.replication_factor=3"})
	}
	if in.Cluster == nil {
		return out
	}
	for _, name := range topics(in) {
		t := in.Cluster.Topics[name]
		if !t.Exists {
			continue
		}
		rf, isr := t.ReplicationFactor, t.MinInsyncReplicas
		switch {
		case isr > rf:
			out = append(out, Finding{Check: "durability", Severity: Error,
				Why: fmt.Sprintf("topic %s has min.insync.replicas=%d but only %d replicas, so every acks=all write fails with NOT_ENOUGH_REPLICAS", name, isr, rf),
				Fix: "min.insync.replicas=" + strconv.Itoa(max(1, rf-1))})
		case rf == 1 && in.Cluster.Brokers == 1:
			out = append(out, Finding{Check: "durability", Severity: Info,
				Why: fmt.Sprintf("topic %s has one replica on a one-broker cluster: fine for development, not for production", name)})
		case rf == 1:
			// An error on a cluster that could keep copies: every
			// acknowledged event lives on one disk, and its partitions stop
			// whenever that broker does (docs/RELIABILITY.md,
			// cluster-rf1-leader-kill). The replication factor of an existing
			// topic changes only by a partition reassignment.
			out = append(out, Finding{Check: "durability", Severity: Error,
				Why: fmt.Sprintf("topic %s has a single replica on a %d-broker cluster: while its broker is down its partitions take no writes and serve no reads, and losing that broker's disk loses every acknowledged event on them", name, in.Cluster.Brokers),
				Fix: fmt.Sprintf("replication.factor=%d: reassign each of its %d partitions to %d brokers (kafka-reassign-partitions --execute with a plan listing %d replicas per partition), then min.insync.replicas=%d (kafka-configs --alter --entity-type topics --entity-name %s --add-config min.insync.replicas=%d)",
					min(3, in.Cluster.Brokers), t.Partitions, min(3, in.Cluster.Brokers), min(3, in.Cluster.Brokers), min(2, in.Cluster.Brokers-1), name, min(2, in.Cluster.Brokers-1))})
		case isr <= 1 && c.Producer.Acks == "all":
			out = append(out, Finding{Check: "durability", Severity: Warn,
				Why: fmt.Sprintf("topic %s has min.insync.replicas=%d, so acks=all is satisfied by the leader alone once followers lag, and a leader failure then loses acknowledged events", name, isr),
				Fix: "min.insync.replicas=2"})
		case isr == rf:
			out = append(out, Finding{Check: "durability", Severity: Warn,
				Why: fmt.Sprintf("topic %s has min.insync.replicas=%d equal to its %d replicas, so one broker down stops every acks=all write", name, isr, rf),
				Fix: "min.insync.replicas=" + strconv.Itoa(rf-1)})
		}
		// Now, not by configuration: brokers are down or behind.
		if isr > 1 && rf >= isr && t.InSync > 0 && t.InSync < isr && c.Producer.Acks == "all" {
			out = append(out, Finding{Check: "durability", Severity: Error,
				Why: fmt.Sprintf("topic %s partition %d has %d replicas in sync now, fewer than min.insync.replicas=%d: every acks=all write to it fails with NOT_ENOUGH_REPLICAS (producers retry until their delivery timeout) until a broker returns", name, t.ShortPartition, t.InSync, isr),
				Fix: "start the brokers that hold its other replicas, or wait until they catch up"})
		}
	}
	return out
}
