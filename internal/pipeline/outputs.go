package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
)

// ensureOutputs wraps a handler of topic.pattern's inputs: before the first
// batch of each input topic it ensures the topics named after that input —
// handler.output_topic with {topic}, and <topic>.dlq when processor.on_failure
// is dlq with no processor.dlq_topic — as Connect ensures the topics known
// up front (creating them when topic.create allows). A pattern's inputs
// appear while the processor runs, so these cannot be ensured at start.
type ensureOutputs struct {
	h  processor.Handler
	cl *kgo.Client
	c  config.Config

	mu   sync.Mutex
	done map[string]bool // input topics whose outputs exist
}

var _ processor.Handler = (*ensureOutputs)(nil)

// withEnsureOutputs returns h, wrapped in ensureOutputs when c has
// pattern-selected inputs with topics named after them.
func withEnsureOutputs(h processor.Handler, cl *kgo.Client, c config.Config) processor.Handler {
	if c.Topic.Pattern == "" || len(namedAfter(c, "x")) == 0 {
		return h
	}
	return &ensureOutputs{h: h, cl: cl, c: c, done: map[string]bool{}}
}

// namedAfter returns the topics of c named after input topic in.
func namedAfter(c config.Config, in string) []string {
	var ts []string
	if out := outputTopic(c); strings.Contains(out, handler.TopicPlaceholder) {
		ts = append(ts, handler.OutputTopic(out, in))
	}
	if c.Processor.OnFailure == processor.OnFailureDLQ && c.Processor.DLQTopic == "" {
		ts = append(ts, processor.DLQTopic(c.Processor, in))
	}
	return ts
}

// Handle ensures b's topic's outputs once, then hands b to the handler. A
// failure to ensure them fails the batch, which the engine retries.
func (e *ensureOutputs) Handle(ctx context.Context, b *processor.Batch) error {
	e.mu.Lock()
	ok := e.done[b.Topic]
	e.mu.Unlock()
	if !ok {
		for _, t := range namedAfter(e.c, b.Topic) {
			if _, err := kafka.EnsureTopic(ctx, e.cl, e.c.Topic, t); err != nil {
				return fmt.Errorf("ensuring %s, the output of input topic %s: %w", t, b.Topic, err)
			}
		}
		e.mu.Lock()
		e.done[b.Topic] = true
		e.mu.Unlock()
	}
	return e.h.Handle(ctx, b)
}
