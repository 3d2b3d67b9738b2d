package main

import (
	"strings"

	"github.com/veltrix/veltrix/internal/config"
)

// oneTopicKeys are the topic.* keys of a command that works on one topic
// (produce, demo): topic.names and topic.pattern select the inputs of
// process and lag only.
var oneTopicKeys = []string{"topic.name", "topic.partitions", "topic.replication_factor", "topic.create"}

// oneTopic refuses topic.names and topic.pattern (from a file or the
// environment: such a command has no flags for them) for command, which
// works on topic.name alone; set, they would be silently ignored.
func oneTopic(l *config.Loaded, command string) error {
	var problems []config.Problem
	add := func(key, value string) {
		problems = append(problems, config.Problem{Key: key, Value: value, Source: l.Sources[key],
			Rule: command + " works on one topic, topic.name; " + key + " selects the input topics of process and lag"})
	}
	if t := l.Config.Topic; len(t.Names) > 0 {
		add("topic.names", strings.Join(t.Names, ","))
	}
	if t := l.Config.Topic; t.Pattern != "" {
		add("topic.pattern", t.Pattern)
	}
	if len(problems) > 0 {
		return &config.Error{Problems: problems}
	}
	return nil
}
