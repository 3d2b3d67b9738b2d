package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// TestClientsAcceptSchemaBounds sets each client setting to the ends of its
// schema range and builds the clients veltrix builds from it. A value the
// schema accepts and franz-go refuses would pass validation and then fail
// at start with franz-go's words instead of the key's; a value between
// 1ms and 10ms for processor.fetch.max_wait did exactly that.
func TestClientsAcceptSchemaBounds(t *testing.T) {
	// Settings the engine combines: the fetch size is capped by the
	// buffer, so the fetch maximum binds only with a buffer to match.
	together := map[string][]string{
		"processor.fetch.max_bytes": {"VELTRIX_PROCESSOR_BUFFER_MAX_BYTES=64GiB"},
	}
	for _, s := range Schema {
		if !strings.HasPrefix(s.Key, "processor.") && !strings.HasPrefix(s.Key, "producer.") && !strings.HasPrefix(s.Key, "kafka.") {
			continue
		}
		for _, v := range []string{s.Min, s.Max} {
			if v == "" {
				continue
			}
			env := append([]string{EnvName(s.Key) + "=" + v}, together[s.Key]...)
			l, err := Load(Options{Environ: env})
			if err != nil {
				// A rule between settings refuses this end with the
				// default of another key: that is the key's own message.
				t.Logf("%s=%s: %v", s.Key, v, err)
				continue
			}
			c := l.Config
			if err := buildClients(c); err != nil {
				t.Errorf("%s=%s passes validation but the client refuses it: %v", s.Key, v, err)
			}
		}
	}
}

// buildClients builds the producer client and runs a processor against a
// port nobody listens on: a setting the client refuses fails at once with
// its own error, anything else ends unreachable.
func buildClients(c Config) error {
	c.Kafka.Brokers = []string{"127.0.0.1:1"}
	c.Kafka.ConnectTimeout = 100 * time.Millisecond
	shared, err := kafka.Options(c.Kafka)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(shared, producer.ClientOptions(c.Producer)...)...)
	if err != nil {
		return err
	}
	cl.Close()
	p, err := processor.New(c.Kafka, "bounds", c.Processor, handler.Noop{}, processor.Options{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = p.Run(ctx)
	var unreachable *kafka.UnreachableError
	if errors.As(err, &unreachable) {
		return nil
	}
	return err
}
