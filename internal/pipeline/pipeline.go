// Package pipeline turns a configuration into a running veltrix pipeline:
// the producer client that ensures the topics and carries the handler's
// writes, the configured handler, the processors of the consumer group (one,
// or a group of them in this process), and the lag monitor of that group.
// process, demo, plan and the benchmarks build their pipelines here, so a
// new capability (a secure connection, say) is wired in one place; the
// commands keep their flags, printing and exit codes.
package pipeline

import (
	"context"
	"io"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/metrics"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// Options are the collaborators of a pipeline. Zero values are valid.
type Options struct {
	// Metrics receives the engine's metrics, and its client hooks go on
	// every client the pipeline connects (each client id becomes a
	// client_id label). nil records none and adds no hooks.
	Metrics *metrics.Metrics
	// Logger receives the processors' and the lag monitor's warnings and
	// errors; nil discards them.
	Logger *slog.Logger
	// Out is where the log handler prints records; nil discards them.
	Out io.Writer
}

// Pipeline is a connected pipeline: its producer client, its topics
// ensured, its handler built. Processors, groups of them and the own lag
// monitor are built from it and use its client; Close it after they have
// stopped.
type Pipeline struct {
	c    config.Config
	opts Options
	cl   *kgo.Client
	h    processor.Handler
}

// Connect connects the pipeline's producer client (client id
// kafka.client_id + idSuffix), which checks the cluster, ensures Topics(c)
// (creating the missing ones when topic.create allows) and carries the
// handler's writes, and builds the configured handler on it.
//
// The client has no record delivery timeout (producer.ForwardClientOptions):
// forward keeps source timestamps and applies producer.delivery_timeout from
// each call instead, so this client must not produce records stamped now,
// such as generated events; ProducerClient connects one for those.
func Connect(ctx context.Context, c config.Config, idSuffix string, opts Options) (*Pipeline, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	pk := c.Kafka
	pk.ClientID = c.Kafka.ClientID + idSuffix
	cl, err := kafka.Connect(ctx, pk, withHooks(producer.ForwardClientOptions(c.Producer), opts.Metrics)...)
	if err != nil {
		return nil, err
	}
	if err := ensureTopics(ctx, cl, c); err != nil {
		cl.Close()
		return nil, err
	}
	h, err := handler.New(c.Handler, handler.Deps{Producer: cl, DeliveryTimeout: c.Producer.DeliveryTimeout, Out: opts.Out})
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &Pipeline{c: c, opts: opts, cl: cl, h: withEnsureOutputs(h, cl, c)}, nil
}

// Client returns the pipeline's producer client. The pipeline owns it.
func (p *Pipeline) Client() *kgo.Client { return p.cl }

// Handler returns the configured handler, built on the pipeline's client.
func (p *Pipeline) Handler() processor.Handler { return p.h }

// Close closes the pipeline's client. Stop every processor, group and lag
// monitor built from the pipeline first: the handler writes through it.
func (p *Pipeline) Close() { p.cl.Close() }

// ProducerClient connects a client for records stamped as they are
// produced, such as generated events (client id kafka.client_id +
// idSuffix): the producer settings with the record delivery timeout the
// pipeline's own client leaves out, and the metrics hooks. The caller
// closes it.
func (p *Pipeline) ProducerClient(ctx context.Context, idSuffix string) (*kgo.Client, error) {
	kc := p.c.Kafka
	kc.ClientID = p.c.Kafka.ClientID + idSuffix
	return kafka.Connect(ctx, kc, withHooks(producer.ClientOptions(p.c.Producer), p.opts.Metrics)...)
}

// withHooks appends m's client hooks to opts when m is set: after the
// producer settings, as every veltrix client has them.
func withHooks(opts []kgo.Opt, m *metrics.Metrics) []kgo.Opt {
	if m == nil {
		return opts
	}
	return append(opts, m.ClientHooks())
}
