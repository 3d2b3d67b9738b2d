package pipeline

import (
	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// Processor returns a member of the pipeline's consumer group running h
// (usually Handler, or a wrapper of it), with a client of its own whose id
// is kafka.client_id + idSuffix. See NewProcessor.
func (p *Pipeline) Processor(idSuffix string, h processor.Handler) (*processor.Processor, error) {
	return NewProcessor(p.c, idSuffix, h, p.opts)
}

// NewProcessor returns a processor of c's topic and group running h, with
// client id c.Kafka.ClientID + idSuffix, c.Processor's engine settings
// (handler.timeout among them), and opts' metrics and logger. Its client takes the
// producer settings first, since it writes dead letters, then the metrics
// hooks; the engine's own options follow and win. It connects nothing:
// Run does. It is the one place veltrix builds a processor, for a caller
// that supplies its own handler and needs no pipeline client (the
// benchmarks). An invalid c.Processor is an error (processor.New checks it).
// With processor.guarantee=exactly_once its client is transactional.
func NewProcessor(c config.Config, idSuffix string, h processor.Handler, opts Options) (*processor.Processor, error) {
	kc := c.Kafka
	kc.ClientID = c.Kafka.ClientID + idSuffix
	topic, topics := c.Topic.Name, InputTopics(c)
	if len(topics.Names) > 0 || topics.Pattern != "" {
		topic = ""
	}
	popts := producer.ClientOptions(c.Producer)
	if c.Processor.Guarantee == processor.ExactlyOnce {
		// The member's own client carries forward's writes in its
		// transactions (processor.TransactClient), and forward keeps the
		// source timestamps: no record delivery timeout (see Connect).
		popts = producer.ForwardClientOptions(c.Producer)
	}
	return processor.New(kc, topic, c.Processor, h, processor.Options{
		Metrics: opts.Metrics, Logger: opts.Logger,
		ClientOpts: withHooks(popts, opts.Metrics),
		Topics:     topics,
	})
}
