package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestReadTopicReportsTopicError: an error the cluster gives for the topic
// fails the read, naming the topic, whether it says the topic is missing or
// something else; a verify never reads an erroring topic as empty.
func TestReadTopicReportsTopicError(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.UnknownTopicOrPartition, kerr.LeaderNotAvailable, kerr.TopicAuthorizationFailed} {
		t.Run(e.Message, func(t *testing.T) {
			c := kafkatest.Fake(t)
			topic := kafkatest.Name(t, "in")
			kafkatest.CreateTopic(t, c.ListenAddrs(), topic, 2)
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: topic, Err: e, Count: -1})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			n, err := ReadTopic(ctx, topic, func(*kgo.Record) {}, kgo.SeedBrokers(c.ListenAddrs()...))
			if !errors.Is(err, e) || !strings.Contains(err.Error(), topic) {
				t.Fatalf("read %d records, error %v; want %s naming %s", n, err, e.Message, topic)
			}
		})
	}
}

// TestCheckTopicsNamesMissing: CheckTopics names every missing topic and
// passes the ones that exist, on both clusters.
func TestCheckTopicsNamesMissing(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		have, miss1, miss2 := kafkatest.Name(t, "in"), kafkatest.Name(t, "out"), kafkatest.Name(t, "dlq")
		kafkatest.CreateTopic(t, c.Brokers, have, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
		if err := CheckTopics(ctx, []string{have}, opts...); err != nil {
			t.Fatalf("existing topic: %v", err)
		}
		err := CheckTopics(ctx, []string{have, miss1, miss2}, opts...)
		if err == nil || !strings.Contains(err.Error(), miss1) || !strings.Contains(err.Error(), miss2) || strings.Contains(err.Error(), have) ||
			!errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("CheckTopics = %v, want UNKNOWN_TOPIC_OR_PARTITION naming %s and %s only", err, miss1, miss2)
		}
	})
}

// TestReadTopicEndsPastAbortedRecords: ReadTopic ends although the last
// records below the last stable offset belong to an aborted transaction
// whose marker lies past it (another transaction, still open, pins the
// last stable offset): it returns the committed and non-transactional
// records only, without waiting for the open transaction. It hung before
// (a read_committed client drops the aborted records and so never showed
// the end), on both clusters.
func TestReadTopicEndsPastAbortedRecords(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic := kafkatest.Name(t, "out")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		newTxn := func(id string) *kgo.Client {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.TransactionalID(kafkatest.Name(t, id)), kgo.DefaultProduceTopic(topic))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cl.Close)
			return cl
		}
		plain := kafkatest.Client(t, c.Brokers)
		produce := func(cl *kgo.Client, v string) {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("producing %s: %v", v, err)
			}
		}
		aborted, open := newTxn("aborted"), newTxn("open")
		produce(plain, "plain")
		for _, cl := range []*kgo.Client{aborted, open} {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
		}
		produce(aborted, "b1")
		produce(aborted, "b2")
		produce(open, "a1")
		if err := aborted.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.Fatal(err)
		}
		read := func(committed bool) []string {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var got []string
			rd := ReadTopic
			if !committed {
				rd = ReadTopicUncommitted
			}
			n, err := rd(rctx, topic, func(r *kgo.Record) { got = append(got, string(r.Value)) }, kgo.SeedBrokers(c.Brokers...))
			if err != nil {
				t.Fatalf("read committed=%v: %d records, %v", committed, n, err)
			}
			if int(n) != len(got) {
				t.Fatalf("read committed=%v returned %d, passed on %d", committed, n, len(got))
			}
			return got
		}
		if got := strings.Join(read(true), ","); got != "plain" {
			t.Errorf("read_committed with a transaction open: %s; want plain", got)
		}
		if got := strings.Join(read(false), ","); got != "plain,b1,b2,a1" {
			t.Errorf("read_uncommitted: %s; want plain,b1,b2,a1", got)
		}
		if err := open.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		produce(plain, "after")
		if got := strings.Join(read(true), ","); got != "plain,a1,after" {
			t.Errorf("read_committed after the commit: %s; want plain,a1,after", got)
		}
	})
}

// TestListedRetriesMovingLeaders is the regression test for a read of the
// output that failed at once, in CI, with NOT_LEADER_FOR_PARTITION while a
// restarted broker took its leaderships back: a retriable per-partition
// error is listed again, and any other error is returned at once.
func TestListedRetriesMovingLeaders(t *testing.T) {
	notLeader := kadm.ListedOffsets{"out": {0: {Topic: "out", Partition: 0, Err: kerr.NotLeaderForPartition}}}
	ok := kadm.ListedOffsets{"out": {0: {Topic: "out", Partition: 0, Offset: 42}}}
	calls := 0
	got, err := listed(context.Background(), func(context.Context) (kadm.ListedOffsets, error) {
		if calls++; calls < 3 {
			return notLeader, nil
		}
		return ok, nil
	})
	if err != nil || calls != 3 || got["out"][0].Offset != 42 {
		t.Fatalf("after two NOT_LEADER_FOR_PARTITION answers: %v, %d calls, %v", err, calls, got)
	}

	calls = 0
	_, err = listed(context.Background(), func(context.Context) (kadm.ListedOffsets, error) {
		calls++
		return kadm.ListedOffsets{"out": {0: {Topic: "out", Partition: 0, Err: kerr.TopicAuthorizationFailed}}}, nil
	})
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || calls != 1 {
		t.Fatalf("a lasting error: %v after %d calls, want it at once", err, calls)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err = listed(ctx, func(context.Context) (kadm.ListedOffsets, error) { return notLeader, nil }); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("a leader that never settles: %v, want NOT_LEADER_FOR_PARTITION when the context ends", err)
	}
}
