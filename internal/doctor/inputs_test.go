package doctor

import (
	"testing"

	"github.com/veltrix/veltrix/internal/config"
)

// TestSeveralInputTopics: with topic.names or topic.pattern, doctor counts
// the partitions of every input together (the group shares them), checks
// each input's retention and existence, and says when a pattern matches
// nothing.
func TestSeveralInputTopics(t *testing.T) {
	topic := func(name string, parts int) Topic {
		return events(func(t *Topic) { t.Name, t.Partitions = name, parts })
	}
	names := func(c *config.Config) {
		c.Topic.Names = []string{"a", "b"}
		c.Deploy.Instances = 8
	}
	live := cluster(3, topic("a", 2), topic("b", 3))
	expect(t, Partitions(in(names, live, 0)),
		want{"partitions", Warn, "deploy.instances=8 but its 2 input topics (a, b) have 5 partitions: 3 instances will sit idle", "deploy.instances=5"})

	missing := cluster(3, topic("a", 2), Topic{Name: "b"})
	expect(t, TopicExists(in(names, missing, 0)),
		want{"topic", Info, "topic a has 2 partitions; topic.partitions=6 only applies", ""},
		want{"topic", Info, "topic b does not exist yet", ""})

	pattern := func(c *config.Config) {
		c.Topic.Pattern = "orders-.*"
		c.Deploy.Instances = 4
	}
	matched := cluster(3, topic("orders-1", 2), topic("orders-2", 2))
	matched.Inputs = []string{"orders-1", "orders-2"}
	expect(t, Partitions(in(pattern, matched, 0)))
	expect(t, Retention(in(func(c *config.Config) {
		pattern(c)
		c.Deploy.OutageTolerance = 30 * 24 * 3600 * 1e9 // longer than the 7 days both keep
	}, matched, 0)),
		want{"retention", Warn, "topic orders-1", "*"}, want{"retention", Warn, "topic orders-2", "*"})
	expect(t, TopicExists(in(pattern, cluster(3), 0)),
		want{"topic", Warn, `topic.pattern "orders-.*" matches no topic of the cluster yet`, "*"})
}
