// Package handler holds veltrix's built-in handlers — noop, log, forward
// and simulate — and New, which builds one from configuration. Each handler
// is one file; each satisfies processor.Handler.
package handler

import (
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/processor"
)

// Deps are what built-in handlers may need besides their configuration.
type Deps struct {
	// Producer writes forwarded records; required by forward, which needs
	// a client without a record delivery timeout (see NewForward).
	Producer *kgo.Client
	// DeliveryTimeout bounds the writes of each forward call, counted from
	// the call (producer.delivery_timeout); 0 leaves it to the call's
	// context.
	DeliveryTimeout time.Duration
	// Out receives the log handler's lines.
	Out io.Writer
}

// New builds the handler cfg.Name names, after checking cfg with Validate.
func New(cfg Config, deps Deps) (processor.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Name {
	case "noop":
		return Noop{}, nil
	case "log":
		if deps.Out == nil {
			return nil, fmt.Errorf("log handler needs an output writer")
		}
		return NewLog(deps.Out), nil
	case "forward":
		if deps.Producer == nil {
			return nil, fmt.Errorf("forward handler needs a producer client")
		}
		f, err := NewForward(deps.Producer, cfg.OutputTopic, cfg.Forward, deps.DeliveryTimeout)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return f, nil
	case "simulate":
		s := NewSimulate(cfg.Simulate)
		if cfg.Simulate.Forward {
			if deps.Producer == nil {
				return nil, fmt.Errorf("simulate handler with handler.simulate.forward needs a producer client")
			}
			f, err := NewForward(deps.Producer, cfg.OutputTopic, cfg.Forward, deps.DeliveryTimeout)
			if err != nil {
				return nil, err
			}
			s.next = f
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown handler %q", cfg.Name)
}
