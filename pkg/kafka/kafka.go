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
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrNoBrokers is returned by Connect when Config.Brokers is empty.
var ErrNoBrokers = errors.New("no brokers configured: set --brokers (kafka.brokers), e.g. 127.0.0.1:9092 for `veltrix broker`")

// Options returns the client options every veltrix client shares.
func Options(cfg Config) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.DialTimeout(cfg.ConnectTimeout),
	}
}

// Connect creates a client with the shared options plus opts and waits, at
// most cfg.ConnectTimeout, until a broker answers. An unreachable cluster is
// an error naming the brokers and the timeout, never a silent hang.
func Connect(ctx context.Context, cfg Config, opts ...kgo.Opt) (*kgo.Client, error) {
	if len(cfg.Brokers) == 0 {
		return nil, ErrNoBrokers
	}
	cl, err := kgo.NewClient(append(Options(cfg), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	if err := Ping(ctx, cl, cfg); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// Ping waits, at most cfg.ConnectTimeout, for a broker to answer a
// metadata request. A refused connection is retried until then, so a
// pipeline started next to a broker that is still booting waits for it.
func Ping(ctx context.Context, cl *kgo.Client, cfg Config) error {
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
		select {
		case <-pctx.Done():
			return &UnreachableError{Brokers: cfg.Brokers, Timeout: cfg.ConnectTimeout.String(), Err: err}
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// UnreachableError says no broker answered within the connect timeout.
type UnreachableError struct {
	Brokers []string
	Timeout string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("no broker answered at %s within %s (kafka.connect_timeout): %v",
		strings.Join(e.Brokers, ","), e.Timeout, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// MissingTopicError says a topic does not exist and veltrix may not create it.
type MissingTopicError struct{ Topic string }

func (e *MissingTopicError) Error() string {
	return fmt.Sprintf("topic %q does not exist; create it or set topic.create=true", e.Topic)
}

// EnsureTopic makes sure topic exists, creating it with t's partitions and
// replication factor when it is missing and t.Create allows. It returns the
// topic's partition count. Another process creating the same topic at the
// same moment is fine: a topic that exists but is not yet visible in
// metadata is waited for, at most topicSettle.
func EnsureTopic(ctx context.Context, cl *kgo.Client, t TopicConfig, topic string) (int, error) {
	n, err := describeTopic(ctx, cl, topic)
	if err == nil || !errors.Is(err, errTopicMissing) {
		return n, err
	}
	if !t.Create {
		return 0, &MissingTopicError{Topic: topic}
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(t.Partitions), int16(t.ReplicationFactor), nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err == nil && resp.NumPartitions > 0 {
		return int(resp.NumPartitions), nil
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("creating topic %q with %d partitions: %w", topic, t.Partitions, err)
	}
	// Created by someone else just now (or by a broker too old to report
	// the partition count): wait until metadata shows its partitions.
	deadline := time.Now().Add(topicSettle)
	for {
		n, err := describeTopic(ctx, cl, topic)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return 0, fmt.Errorf("topic %q not usable %s after creating it: %w", topic, topicSettle, err)
			}
			return n, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// topicSettle bounds the wait for a new topic to show in metadata.
const topicSettle = 10 * time.Second

var errTopicMissing = errors.New("topic does not exist")

// describeTopic returns topic's partition count, errTopicMissing when it
// does not exist, or the error that describing it returned. It sends its
// own metadata request: the client's cached metadata (kadm.ListTopics) can
// still say "missing" for seconds after a topic was created.
func describeTopic(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("describing topic %q: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		err := kerr.ErrorForCode(t.ErrorCode)
		switch {
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			return 0, errTopicMissing
		case err != nil:
			return 0, fmt.Errorf("describing topic %q: %w", topic, err)
		case len(t.Partitions) == 0:
			return 0, fmt.Errorf("describing topic %q: no partitions yet", topic)
		}
		return len(t.Partitions), nil
	}
	return 0, errTopicMissing
}
