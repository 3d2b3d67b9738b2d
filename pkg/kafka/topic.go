package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicMetadata is one topic as a broker's metadata answer describes it.
type TopicMetadata struct {
	Name       string
	Partitions []PartitionMetadata // in partition order
}

// PartitionMetadata is one partition of a TopicMetadata.
type PartitionMetadata struct {
	Partition int32
	Leader    int32   // broker id; -1 while the partition has no leader
	Replicas  []int32 // broker ids
	ISR       []int32 // the replicas in sync, as the leader last told the controller
	Err       error   // the broker's error for the partition, e.g. LEADER_NOT_AVAILABLE; nil when none
}

// Usable returns nil when the topic has partitions and every one has a
// leader and no error, so producers and consumers can use all of it at
// once; otherwise a *TopicError naming the first partition that is not.
func (t TopicMetadata) Usable() error {
	if len(t.Partitions) == 0 {
		return &TopicError{Topic: t.Name, Partition: -1, Err: errNoPartitions}
	}
	for _, p := range t.Partitions {
		switch {
		case p.Err != nil:
			return &TopicError{Topic: t.Name, Partition: p.Partition, Err: p.Err}
		case p.Leader < 0:
			return &TopicError{Topic: t.Name, Partition: p.Partition, Err: kerr.LeaderNotAvailable}
		}
	}
	return nil
}

// TopicError is the error a broker's metadata answer gives for one topic
// (Partition -1) or one of its partitions. Only UNKNOWN_TOPIC_OR_PARTITION
// for the topic means it does not exist: errors.Is(err,
// kerr.UnknownTopicOrPartition). Anything else — TOPIC_AUTHORIZATION_FAILED,
// LEADER_NOT_AVAILABLE while a topic is being created — says nothing about
// whether it exists.
type TopicError struct {
	Topic     string
	Partition int32 // -1 for the topic itself
	Err       error
}

func (e *TopicError) Error() string {
	if e.Partition < 0 {
		return fmt.Sprintf("describing topic %q: %v", e.Topic, e.Err)
	}
	return fmt.Sprintf("describing topic %q partition %d: %v", e.Topic, e.Partition, e.Err)
}

func (e *TopicError) Unwrap() error { return e.Err }

var (
	errNoPartitions = errors.New("no partitions yet")
	errNotAnswered  = errors.New("the broker's metadata answer left it out")
)

// DescribeTopics asks the cluster about topics with one metadata request of
// its own. It bypasses the client's metadata cache, which kadm's ListTopics
// and Metadata answer from and which can still say "missing" (or show an
// old error) for seconds after a topic was created.
//
// Topics that do not exist (UNKNOWN_TOPIC_OR_PARTITION) are absent from the
// result. Any other error for a topic is returned as a *TopicError naming
// it (joined, when several topics have one), never taken for a missing
// topic. Partition errors and leaderless partitions are left in the result
// for the caller to judge: see TopicMetadata.Usable.
func DescribeTopics(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]TopicMetadata, error) {
	answers, err := describe(ctx, cl, topics)
	if err != nil {
		return nil, err
	}
	out := make(map[string]TopicMetadata, len(answers))
	var errs []error
	for _, name := range topics {
		switch a := answers[name]; {
		case a.err == nil:
			out[name] = a.md
		case !missing(a.err):
			errs = append(errs, a.err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// WaitTopics waits, at most timeout, until topics exist and every partition
// of each has a leader, as the cluster's uncached metadata says, and
// returns them. Answers that can change on their own (the topic not yet
// known to the broker asked, LEADER_NOT_AVAILABLE, no partitions yet) are
// waited out; any other error for a topic, such as TOPIC_AUTHORIZATION_FAILED,
// is returned at once. On timeout the error names the topics and what the
// cluster last said.
func WaitTopics(ctx context.Context, cl *kgo.Client, timeout time.Duration, topics ...string) (map[string]TopicMetadata, error) {
	deadline := time.Now().Add(timeout)
	for {
		out, pending, err := usable(ctx, cl, topics)
		if err != nil || pending == nil {
			return out, err
		}
		names := strings.Join(topics, ", ")
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("waiting for topic %s to have a leader on every partition: %w; last: %w", names, err, pending)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("topic %s did not have a leader on every partition within %s: %w", names, timeout, pending)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// usable describes topics once. It returns them when all are usable;
// pending, when some are not yet but may become so; err, when waiting
// cannot help.
func usable(ctx context.Context, cl *kgo.Client, topics []string) (out map[string]TopicMetadata, pending, err error) {
	answers, err := describe(ctx, cl, topics)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, err
		}
		// The request itself failed after the client's own retries
		// (e.g. a broker restarting): worth another try.
		return nil, err, nil
	}
	out = make(map[string]TopicMetadata, len(topics))
	var errs []error
	for _, name := range topics {
		a := answers[name]
		e := a.err
		if e == nil {
			e = a.md.Usable()
		}
		switch {
		case e == nil:
			out[name] = a.md
		case kerr.IsRetriable(e) || errors.Is(e, errNoPartitions) || errors.Is(e, errNotAnswered):
			errs = append(errs, e)
		default:
			return nil, nil, e
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...), nil
	}
	return out, nil, nil
}

// answer is one topic's part of a metadata answer: its metadata, or the
// *TopicError the broker gave for it.
type answer struct {
	md  TopicMetadata
	err error
}

// describe sends one metadata request for topics. Requested through the
// client rather than kadm, the request goes to a broker and is never
// answered from the client's metadata cache.
func describe(ctx context.Context, cl *kgo.Client, topics []string) (map[string]answer, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("describing topic %s: %w", strings.Join(topics, ", "), err)
	}
	out := make(map[string]answer, len(topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		name := *t.Topic
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			out[name] = answer{err: &TopicError{Topic: name, Partition: -1, Err: err}}
			continue
		}
		md := TopicMetadata{Name: name}
		for _, p := range t.Partitions {
			md.Partitions = append(md.Partitions, PartitionMetadata{Partition: p.Partition, Leader: p.Leader,
				Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR), Err: kerr.ErrorForCode(p.ErrorCode)})
		}
		slices.SortFunc(md.Partitions, func(a, b PartitionMetadata) int { return cmp.Compare(a.Partition, b.Partition) })
		out[name] = answer{md: md}
	}
	for _, name := range topics {
		if _, ok := out[name]; !ok {
			out[name] = answer{err: &TopicError{Topic: name, Partition: -1, Err: errNotAnswered}}
		}
	}
	return out, nil
}

// missing says err is the broker's answer that a topic does not exist.
func missing(err error) bool {
	var te *TopicError
	return errors.As(err, &te) && te.Partition < 0 && errors.Is(te.Err, kerr.UnknownTopicOrPartition)
}
