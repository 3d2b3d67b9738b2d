package handler_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/handler/handlertest"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// TestHandlersKeepTheContract runs the handler contract suite against every
// built-in handler, built as the CLI builds it (handler.New), in the
// configurations that change how it handles a batch. Simulate with
// hang_call is left out: it hangs a call for good, by design, to test the
// engine, not the handler.
func TestHandlersKeepTheContract(t *testing.T) {
	build := func(cfg handler.Config, deps handler.Deps) func(t *testing.T) processor.Handler {
		return func(t *testing.T) processor.Handler {
			t.Helper()
			h, err := handler.New(cfg, deps)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
	}
	for name, cfg := range map[string]handler.Config{
		"noop":                       {Name: "noop"},
		"log":                        {Name: "log"},
		"simulate":                   {Name: "simulate"},
		"simulate/failure_rate":      {Name: "simulate", Simulate: handler.SimulateConfig{FailureRate: 0.3}},
		"simulate/delays":            {Name: "simulate", Simulate: handler.SimulateConfig{BatchDelay: time.Millisecond, RecordDelay: 100 * time.Microsecond}},
		"simulate/every_record_fail": {Name: "simulate", Simulate: handler.SimulateConfig{FailureRate: 1}},
	} {
		t.Run(name, func(t *testing.T) {
			handlertest.Run(t, build(cfg, handler.Deps{Out: &bytes.Buffer{}}))
		})
	}

	// forward and simulate with forward write to a cluster.
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		out := kafkatest.Name(t, "out")
		kafkatest.CreateTopic(t, c.Brokers, out, 1)
		cl, err := kgo.NewClient(append(producer.ForwardClientOptions(config.Default().Producer), kgo.SeedBrokers(c.Brokers...))...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		deps := handler.Deps{Producer: cl, DeliveryTimeout: 10 * time.Second}
		for name, cfg := range map[string]handler.Config{
			"forward":              {Name: "forward", OutputTopic: out},
			"forward/require_json": {Name: "forward", OutputTopic: out, Forward: handler.ForwardConfig{RequireJSON: true}},
			"simulate/forward":     {Name: "simulate", OutputTopic: out, Simulate: handler.SimulateConfig{FailureRate: 0.3, Forward: true}},
		} {
			t.Run(name, func(t *testing.T) {
				handlertest.Run(t, build(cfg, deps))
			})
		}
	})
}
