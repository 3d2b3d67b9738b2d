package kafka_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// silentListener accepts connections and never answers on them, as a
// SIGSTOPped broker's kernel does.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestDialerHungBroker: a broker that accepts connections but answers
// nothing fails a request within the probe deadline, as a dial error
// (which franz-go takes for an unreachable broker, dropping a coordinator
// cached on it) naming the broker, in plaintext and when the TLS
// handshake is what goes unanswered.
func TestDialerHungBroker(t *testing.T) {
	addr := silentListener(t)
	for _, tc := range []struct {
		name string
		tls  kafka.TLSConfig
	}{
		{"plaintext", kafka.TLSConfig{}},
		{"tls", kafka.TLSConfig{Enabled: true, InsecureSkipVerify: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafka.Config{Brokers: []string{addr}, ClientID: "hung", ConnectTimeout: time.Second, TLS: tc.tls}
			opts, err := kafka.Options(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(append(opts, kgo.RequestRetries(0))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			took := time.Since(start)
			var hung *kafka.HungError
			if !errors.As(err, &hung) {
				t.Fatalf("after %s: want a *kafka.HungError, got %v", took, err)
			}
			var op *net.OpError
			if !errors.As(err, &op) || op.Op != "dial" || op.Timeout() {
				t.Fatalf("want a dial *net.OpError that is not a timeout (as a refused connection), got %#v", op)
			}
			if hung.Broker != addr {
				t.Errorf("names broker %q, want %q", hung.Broker, addr)
			}
			// One probe of one second; retries stay within ctx.
			if ctx.Err() != nil {
				t.Fatalf("the request waited for its context (%s): %v", took, err)
			}
			t.Logf("%s: %v", took, err)
		})
	}
}

// TestDialerLiveBroker: a live broker answers the probe, and a client
// built from Options works on it (produce and fetch), on every cluster of
// kafkatest. TLS and SASL are the security tests' (TestConnectSecure,
// the real SASL_SSL broker's tests), which dial the same way.
func TestDialerLiveBroker(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		cfg := kafka.DefaultConfig()
		cfg.Brokers = c.Brokers
		cl, err := kafka.Connect(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		topic := kafkatest.Name(t, "probe")
		if _, err := kafka.EnsureTopic(context.Background(), cl, kafka.TopicConfig{Partitions: 1, ReplicationFactor: -1, Create: true}, topic); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkConnect measures a new client's first answered request: dial,
// probe (franz-go's ApiVersions), metadata.
func BenchmarkConnect(b *testing.B) {
	brokers := kafkatest.Real(b)
	cfg := kafka.DefaultConfig()
	cfg.Brokers = brokers
	for b.Loop() {
		cl, err := kafka.Connect(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		cl.Close()
	}
}
