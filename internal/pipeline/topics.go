package pipeline

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
)

// Topics returns every topic the pipeline c describes uses and can name
// before it runs, inputs first: topic.name or topic.names;
// handler.output_topic when the handler writes there (forward, or simulate
// with handler.simulate.forward), once per input when it holds {topic}; and
// the dead-letter topics when processor.on_failure is dlq. With
// topic.pattern the inputs, and the outputs and dead-letter topics named
// after them, are found only while running (ensureOutputs). process and
// demo ensure exactly these, doctor inspects them and plan creates them on
// its embedded cluster.
func Topics(c config.Config) []string {
	inputs := c.Topic.Inputs()
	ts := slices.Clone(inputs)
	add := func(t string) {
		if !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	// A validated config always names the output topic a writing handler
	// needs; the check keeps an unvalidated one from asking about "".
	if out := outputTopic(c); out != "" {
		if !strings.Contains(out, handler.TopicPlaceholder) {
			add(out)
		}
		for _, in := range inputs {
			add(handler.OutputTopic(out, in))
		}
	}
	if c.Processor.OnFailure == "dlq" {
		if c.Processor.DLQTopic != "" {
			add(c.Processor.DLQTopic)
		}
		for _, in := range inputs {
			add(processor.DLQTopic(c.Processor, in))
		}
	}
	return ts
}

// outputTopic is handler.output_topic when the handler writes there, else "".
func outputTopic(c config.Config) string {
	if c.Handler.Name == "forward" || c.Handler.Name == "simulate" && c.Handler.Simulate.Forward {
		return c.Handler.OutputTopic
	}
	return ""
}

// InputTopics is the processor's topic selection for c: empty for one
// topic (topic.name), else topic.names or topic.pattern, with the output
// topics excluded from the pattern, so forward never consumes what it
// writes.
func InputTopics(c config.Config) processor.Topics {
	t := processor.Topics{Names: c.Topic.Names, Pattern: c.Topic.Pattern, Refresh: c.Topic.Refresh}
	if t.Pattern == "" {
		t.Refresh = 0
		return t
	}
	if out := outputTopic(c); out != "" {
		before, after, found := strings.Cut(out, handler.TopicPlaceholder)
		re := regexp.QuoteMeta(out)
		if found {
			re = regexp.QuoteMeta(before) + ".+" + regexp.QuoteMeta(strings.ReplaceAll(after, handler.TopicPlaceholder, "")) // one placeholder is what counts
		}
		t.Exclude = append(t.Exclude, re)
	}
	return t
}

// ensureTopics checks every topic of Topics(c) through cl, creating the
// missing ones with c.Topic's partitions and replication factor when
// topic.create allows it, and waits until each is usable.
func ensureTopics(ctx context.Context, cl *kgo.Client, c config.Config) error {
	for _, t := range Topics(c) {
		if _, err := kafka.EnsureTopic(ctx, cl, c.Topic, t); err != nil {
			return err
		}
	}
	return nil
}

// MatchTopics returns, sorted, the topics of all that c's topic.pattern
// selects as inputs, as the processor's client does: whole names, never an
// internal topic (a name starting with __), an output or a dead-letter
// topic. Without a pattern it returns nil.
func MatchTopics(c config.Config, all []string) []string {
	t := InputTopics(c)
	if t.Pattern == "" {
		return nil
	}
	whole := func(re string) *regexp.Regexp { return regexp.MustCompile("^(?:" + re + ")$") } // validated by config
	match := whole(t.Pattern)
	exclude := []*regexp.Regexp{whole(processor.DLQPattern(c.Processor))}
	for _, e := range t.Exclude {
		exclude = append(exclude, whole(e))
	}
	var out []string
	for _, name := range all {
		if strings.HasPrefix(name, "__") || !match.MatchString(name) ||
			slices.ContainsFunc(exclude, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// NamedAfter returns the topics of c named after input topic in: the
// output of handler.output_topic with {topic}, and in's dead-letter topic
// when processor.on_failure is dlq with no processor.dlq_topic.
func NamedAfter(c config.Config, in string) []string { return namedAfter(c, in) }
