package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNoBrokers is returned by Connect when Config.Brokers is empty.
var ErrNoBrokers = errors.New("no brokers configured (Config.Brokers is empty)")

// Options returns the client options every veltrix client shares: the
// brokers, the client id, the dialer (dialer.go: connect timeout, TLS,
// hung-broker probe) and SASL. Every client
// veltrix makes is built from them, so all connect the same way. It reads
// the files cfg.TLS names; an unreadable or malformed one is an error.
func Options(cfg Config) ([]kgo.Opt, error) {
	return options(cfg, nil)
}

// options is Options for a client made by Connect, whose hook h (when not
// nil) also learns why the latest token fetch failed.
func options(cfg Config, h *connHook) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
	}
	tc, err := cfg.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("building the TLS configuration: %w", err)
	}
	// The dialer does TLS itself (kgo.DialTLSConfig and kgo.Dialer exclude
	// each other) and bounds the dial by cfg.ConnectTimeout: see dialer.go.
	opts = append(opts, kgo.Dialer(newProbingDialer(cfg, tc).DialContext))
	var tokenFailed func(error)
	if h != nil {
		tokenFailed = h.tokenFailed
	}
	mech, err := cfg.SASL.build(cfg.ConnectTimeout, tokenFailed)
	if err != nil {
		return nil, fmt.Errorf("building the SASL mechanism: %w", err)
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

// Connect creates a client with the shared options plus opts and waits, at
// most cfg.ConnectTimeout, until a broker answers. An unreachable cluster is
// an error naming the brokers and the timeout, never a silent hang.
func Connect(ctx context.Context, cfg Config, opts ...kgo.Opt) (*kgo.Client, error) {
	return connect(ctx, cfg, opts, "client", kgo.NewClient, func(cl *kgo.Client) *kgo.Client { return cl })
}

// connect is Connect and ConnectSession: mk builds the client (what names it
// in errors) from the shared options plus opts, and client gives the
// *kgo.Client to ping through.
func connect[T interface{ Close() }](ctx context.Context, cfg Config, opts []kgo.Opt, what string,
	mk func(...kgo.Opt) (T, error), client func(T) *kgo.Client,
) (T, error) {
	var zero T
	if len(cfg.Brokers) == 0 {
		return zero, ErrNoBrokers
	}
	h := new(connHook)
	shared, err := options(cfg, h)
	if err != nil {
		return zero, err
	}
	c, err := mk(append(append(shared, kgo.WithHooks(h)), opts...)...)
	if err != nil {
		return zero, fmt.Errorf("creating %s: %w", what, err)
	}
	if err := ping(ctx, client(c), cfg, h); err != nil {
		c.Close()
		return zero, err
	}
	return c, nil
}

// Ping waits, at most cfg.ConnectTimeout, for a broker to answer a
// metadata request. A refused connection is retried until then, so a
// pipeline started next to a broker that is still booting waits for it.
// An answer that waiting cannot change — the credentials refused
// (*AuthError), a TLS handshake failed (*TLSError), the token endpoint
// refused (*TokenError) — is returned at once.
func Ping(ctx context.Context, cl *kgo.Client, cfg Config) error {
	return ping(ctx, cl, cfg, nil)
}

// ping is Ping with the hook of a client made by Connect, which names the
// broker a failure came from.
func ping(ctx context.Context, cl *kgo.Client, cfg Config, h *connHook) error {
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	for {
		err := cl.Ping(pctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ferr := classify(err, cfg, h); ferr != nil {
			return ferr
		}
		select {
		case <-pctx.Done():
			// The brokers may be fine: the token endpoint never
			// answered, so no connection could authenticate. The
			// client may have retried that until the deadline, leaving
			// err a bare deadline; the hook remembers why.
			var te *TokenError
			if h != nil && h.token() != nil {
				return h.token()
			}
			if errors.As(err, &te) {
				return te
			}
			ue := &UnreachableError{Brokers: cfg.Brokers, Timeout: cfg.ConnectTimeout.String(), Err: err}
			if cfg.TLS.Enabled && errors.Is(err, context.DeadlineExceeded) {
				// A plaintext listener may read a TLS hello as the start
				// of a huge request and wait for the rest, answering
				// nothing (the embedded cluster does).
				ue.Hint = "no TLS handshake was answered: if this is a plaintext listener, set kafka.tls.enabled=false or use its TLS port"
			}
			return ue
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// UnreachableError says no broker answered within the connect timeout.
type UnreachableError struct {
	Brokers []string
	Timeout string
	Err     error
	Hint    string // a likely cause, or ""
}

func (e *UnreachableError) Error() string {
	s := fmt.Sprintf("no broker answered at %s within %s (kafka.connect_timeout): %v",
		strings.Join(e.Brokers, ","), e.Timeout, e.Err)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// MissingTopicError says a topic does not exist and veltrix may not create it.
type MissingTopicError struct{ Topic string }

func (e *MissingTopicError) Error() string {
	return fmt.Sprintf("topic %q does not exist; create it or set topic.create=true", e.Topic)
}

// EnsureTopic makes sure topic exists, creating it with t's partitions and
// replication factor when it is missing and t.Create allows, and returns
// its partition count once every partition has a leader: a `veltrix
// process` started right after the `veltrix produce` that created the topic
// finds it usable. Another process creating the same topic at the same
// moment is fine. Only UNKNOWN_TOPIC_OR_PARTITION means missing; any other
// error for the topic (authorization, say) is returned as a *TopicError.
// The wait for leaders is bounded by topicSettle.
func EnsureTopic(ctx context.Context, cl *kgo.Client, t TopicConfig, topic string) (int, error) {
	answers, err := describe(ctx, cl, []string{topic})
	if err != nil {
		return 0, err
	}
	a := answers[topic]
	if a.err == nil && a.md.Usable() == nil {
		return len(a.md.Partitions), nil
	}
	if missing(a.err) {
		if !t.Create {
			return 0, &MissingTopicError{Topic: topic}
		}
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(t.Partitions), int16(t.ReplicationFactor), nil, topic)
		if err == nil {
			err = resp.Err
		}
		// Already exists: another process created it just now.
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return 0, fmt.Errorf("creating topic %q with %d partitions: %w", topic, t.Partitions, err)
		}
	}
	// Created just now (by us or another process), or existing with
	// partitions still electing a leader: a created topic is answered
	// before its partitions are led, and a client that produced or joined
	// a group at once would meet UNKNOWN_TOPIC_OR_PARTITION or
	// LEADER_NOT_AVAILABLE.
	md, err := WaitTopics(ctx, cl, topicSettle, topic)
	if err != nil {
		return 0, err
	}
	return len(md[topic].Partitions), nil
}

// topicSettle bounds the wait for a topic's partitions to have leaders. A
// broker elects them in well under a second; the margin is for a loaded
// machine.
const topicSettle = 30 * time.Second
