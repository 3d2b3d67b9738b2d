package doctor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// partitions returns the input topics' partition count, summed over every
// input (a group shares all its topics' partitions among its members): a
// topic's live count when the cluster was inspected and it exists, else
// topic.partitions (what veltrix creates it with). The phrase names where
// the count came from. A pattern that matched nothing counts 0.
func partitions(in Input) (int, string) {
	names := inputs(in)
	sum, live := 0, 0
	for _, name := range names {
		if in.Cluster != nil {
			if t, ok := in.Cluster.Topics[name]; ok && t.Exists {
				sum += t.Partitions
				live++
				continue
			}
		}
		sum += in.Config.Topic.Partitions
	}
	switch {
	case len(names) == 1 && live == 1:
		return sum, fmt.Sprintf("topic %s has", names[0])
	case len(names) == 1 || len(names) == 0 && in.Config.Topic.Pattern == "":
		return in.Config.Topic.Partitions, fmt.Sprintf("topic.partitions=%d creates", in.Config.Topic.Partitions)
	case live == len(names):
		return sum, fmt.Sprintf("its %d input topics (%s) have", len(names), strings.Join(names, ", "))
	}
	return sum, fmt.Sprintf("its %d input topics (%s; missing ones created with topic.partitions=%d) have", len(names), strings.Join(names, ", "), in.Config.Topic.Partitions)
}

// TopicExists checks every topic the configuration uses on the live
// cluster: a missing one is fatal when veltrix may not create it.
func TopicExists(in Input) []Finding {
	if in.Cluster == nil {
		return []Finding{{Check: "cluster", Severity: Info,
			Why: "no brokers given, so the topic, durability and retention checks against the live cluster were skipped",
			Fix: "kafka.brokers=<host:port>"}}
	}
	c := in.Config
	var out []Finding
	if c.Topic.Pattern != "" && len(inputs(in)) == 0 {
		out = append(out, Finding{Check: "topic", Severity: Warn,
			Why: fmt.Sprintf("topic.pattern %q matches no topic of the cluster yet: process consumes nothing until one is created (it looks again every topic.refresh=%s)", c.Topic.Pattern, c.Topic.Refresh),
			Fix: "topic.pattern=<a regular expression matching whole input topic names>"})
	}
	for _, name := range topics(in) {
		t := in.Cluster.Topics[name]
		switch {
		case !t.Exists && !c.Topic.Create:
			out = append(out, Finding{Check: "topic", Severity: Error,
				Why: fmt.Sprintf("topic %s does not exist and topic.create=false, so process and produce stop at start", name),
				Fix: "topic.create=true"})
		case !t.Exists:
			out = append(out, Finding{Check: "topic", Severity: Info,
				Why: fmt.Sprintf("topic %s does not exist yet; veltrix will create it with topic.partitions=%d", name, c.Topic.Partitions)})
		case slices.Contains(inputs(in), name) && c.Topic.Pattern == "" && t.Partitions != c.Topic.Partitions:
			out = append(out, Finding{Check: "topic", Severity: Info,
				Why: fmt.Sprintf("topic %s has %d partitions; topic.partitions=%d only applies when veltrix creates a topic", name, t.Partitions, c.Topic.Partitions)})
		}
	}
	return out
}

// Partitions compares the input topic's partitions with the planned
// instances and the autoscaler's maximum: a group member beyond the
// partition count gets nothing to consume, so it adds cost and no
// throughput.
func Partitions(in Input) []Finding {
	d := in.Config.Deploy
	p, where := partitions(in)
	creating := strings.HasPrefix(where, "topic.partitions=")
	var out []Finding
	if d.Instances > p {
		fix := "deploy.instances=" + strconv.Itoa(p)
		if creating {
			fix = "topic.partitions=" + strconv.Itoa(d.MaxScale())
		}
		out = append(out, Finding{Check: "partitions", Severity: Warn,
			Why: fmt.Sprintf("deploy.instances=%d but %s %d partitions: %d instances will sit idle with no partition assigned",
				d.Instances, where, p, d.Instances-p),
			Fix: fix})
	}
	if d.MaxInstances > p {
		fix := "deploy.max_instances=" + strconv.Itoa(p)
		if creating {
			fix = "topic.partitions=" + strconv.Itoa(d.MaxInstances)
		}
		out = append(out, Finding{Check: "autoscaler", Severity: Warn,
			Why: fmt.Sprintf("the autoscaler may scale to deploy.max_instances=%d but %s %d partitions: instances beyond %d get nothing to consume and add no throughput",
				d.MaxInstances, where, p, p),
			Fix: fix})
	}
	if d.MaxInstances > 0 && d.MaxInstances < d.Instances {
		out = append(out, Finding{Check: "autoscaler", Severity: Warn,
			Why: fmt.Sprintf("deploy.max_instances=%d is below deploy.instances=%d, so the autoscaler would scale the planned group down", d.MaxInstances, d.Instances),
			Fix: "deploy.max_instances=" + strconv.Itoa(d.Instances)})
	}
	if d.Instances <= p && p%d.Instances != 0 {
		k := p / d.Instances
		out = append(out, Finding{Check: "partitions", Severity: Info,
			Why: fmt.Sprintf("%d partitions over %d instances is uneven: some own %d partitions and some %d, so the busiest carries %.0f%% more than the average",
				p, d.Instances, k+1, k, (float64(k+1)/(float64(p)/float64(d.Instances))-1)*100)})
	}
	return out
}
