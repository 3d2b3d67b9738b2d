package pipeline

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
)

// Topics returns every topic the pipeline c describes uses, input first:
// topic.name; handler.output_topic when the handler writes there (forward,
// or simulate with handler.simulate.forward); and the dead-letter topic when
// processor.on_failure is dlq. process and demo ensure exactly these, doctor
// inspects them and plan creates them on its embedded cluster.
func Topics(c config.Config) []string {
	ts := []string{c.Topic.Name}
	writes := c.Handler.Name == "forward" || c.Handler.Name == "simulate" && c.Handler.Simulate.Forward
	// A validated config always names the output topic a writing handler
	// needs; the check keeps an unvalidated one from asking about "".
	if writes && c.Handler.OutputTopic != "" {
		ts = append(ts, c.Handler.OutputTopic)
	}
	if c.Processor.OnFailure == "dlq" {
		ts = append(ts, processor.DLQTopic(c.Processor, c.Topic.Name))
	}
	return ts
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
