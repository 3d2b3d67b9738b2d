package processor

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestModelChecks tests the model's own checks (model_state_test.go) on
// hand-made requests and handler outcomes, so that a passing TestModel
// means the engine held the invariants, not that the model missed them.
func TestModelChecks(t *testing.T) {
	const topic = "t"
	join := func(m *model, id string, owned ...int32) {
		var meta kmsg.ConsumerMemberMetadata
		meta.Version = 1
		meta.Topics = []string{topic}
		if len(owned) > 0 {
			meta.OwnedPartitions = []kmsg.ConsumerMemberMetadataOwnedPartition{{Topic: topic, Partitions: owned}}
		}
		req := kmsg.NewPtrJoinGroupRequest()
		req.MemberID = id
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "cooperative-sticky", Metadata: meta.AppendTo(nil)}}
		m.onJoin(req)
	}
	sync := func(m *model, plan map[string][]int32) {
		req := kmsg.NewPtrSyncGroupRequest()
		for id, parts := range plan {
			var a kmsg.ConsumerMemberAssignment
			a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: topic, Partitions: parts}}
			req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: a.AppendTo(nil)})
		}
		m.onSync(req)
	}
	commit := func(m *model, id string, part int32, off int64) {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.MemberID = id
		req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: part, Offset: off}}}}
		m.onCommit(req)
	}
	leave := func(m *model, id string) {
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: id}}
		m.onLeave(req)
	}
	batch := func(part int32, from, to int64) *Batch {
		b := &Batch{Topic: topic, Partition: part}
		for o := from; o <= to; o++ {
			b.Records = append(b.Records, &kgo.Record{Topic: topic, Partition: part, Offset: o})
		}
		return b
	}
	// keyed makes a key-ordered (or none-ordered) model with concurrency
	// 2 whose partition 0 holds the keys, one a record ("" for none).
	keyed := func(m *model, order Ordering, keys ...string) {
		m.ordering, m.concurrency = order, 2
		ks := make([][]byte, len(keys))
		for i, k := range keys {
			if k != "" {
				ks[i] = []byte(k)
			}
		}
		m.producing(0, ks)
		m.produced(0, int64(len(keys)))
	}
	// records is a batch of partition 0's records at offs, keyed as the
	// model's produce recorded them.
	records := func(m *model, offs ...int64) *Batch {
		b := &Batch{Topic: topic, Partition: 0}
		for _, o := range offs {
			r := &kgo.Record{Topic: topic, Partition: 0, Offset: o}
			for k, ko := range m.parts[0].keyOffs {
				if slices.Contains(ko, o) {
					r.Key = []byte(k)
				}
			}
			b.Records = append(b.Records, r)
		}
		return b
	}
	call := func(m *model, mm *memberModel, b *Batch, out outcome) {
		beh := m.begin(mm, b)
		m.end(mm, b, beh, out, time.Millisecond)
	}

	for _, tc := range []struct {
		name   string
		skip   bool
		run    func(m *model, mm *memberModel)
		broken string // the invariant the story breaks, "" for none
	}{
		{"commit of finished records by the owner", false, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, batch(0, 0, 4), outDone)
			commit(m, "a", 0, 5)
		}, ""},
		{"commit beyond a finished record", false, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, batch(0, 0, 4), outDone)
			commit(m, "a", 0, 6)
		}, "commit-finished"},
		{"commit past a failed record under halt", false, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, batch(0, 0, 1), outFailed)
			call(m, mm, batch(0, 0, 1), outFailed)
			commit(m, "a", 0, 2)
		}, "commit-finished"},
		{"skip past a record that failed every attempt", true, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, batch(0, 0, 0), outFailed)
			call(m, mm, batch(0, 0, 0), outTimeout)
			commit(m, "a", 0, 1)
		}, ""},
		{"skip past a record that only timed out", true, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, batch(0, 0, 0), outTimeout)
			call(m, mm, batch(0, 0, 0), outTimeout)
			commit(m, "a", 0, 1)
		}, "commit-finished"},
		{"skip past a record whose calls were cancelled", true, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, batch(0, 0, 0), outCancelled)
			call(m, mm, batch(0, 0, 0), outCancelled)
			commit(m, "a", 0, 1)
		}, "commit-finished"},
		{"commit in the cooperative revoke, before the rejoin", false, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0, 1}})
			call(m, mm, batch(1, 0, 0), outDone)
			join(m, "a", 0, 1)
			sync(m, map[string][]int32{"a": {0}, "b": {}})
			commit(m, "a", 1, 1)
			join(m, "a", 0)
		}, ""},
		{"commit after the revoke returned", false, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0, 1}})
			call(m, mm, batch(1, 0, 0), outDone)
			sync(m, map[string][]int32{"a": {0}, "b": {}})
			join(m, "a", 0)
			commit(m, "a", 1, 1)
		}, "commit-owned"},
		{"commit after leaving", false, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, batch(0, 0, 0), outDone)
			leave(m, "a")
			commit(m, "a", 0, 1)
		}, "commit-owned"},
		{"commit of a partition never assigned", false, func(m *model, mm *memberModel) {
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, batch(1, 0, 0), outDone)
			commit(m, "a", 1, 1)
		}, "commit-owned"},
		{"redelivery is not a gap", false, func(m *model, mm *memberModel) {
			call(m, mm, batch(0, 0, 4), outDone)
			call(m, mm, batch(0, 2, 6), outDone)
		}, ""},
		{"a gap in first deliveries", false, func(m *model, mm *memberModel) {
			call(m, mm, batch(0, 0, 4), outDone)
			call(m, mm, batch(0, 6, 7), outDone)
		}, "order-of-first-deliveries"},
		{"two calls at once on a partition", false, func(m *model, mm *memberModel) {
			b := batch(0, 0, 1)
			beh := m.begin(mm, b)
			call(m, mm, batch(0, 2, 3), outDone)
			m.end(mm, b, beh, outDone, time.Millisecond)
		}, "one-call-per-partition"},
		{"key: calls at once on different keys, each key in order", false, func(m *model, mm *memberModel) {
			keyed(m, OrderKey, "a", "b", "a", "b", "")
			x := records(m, 0, 2)
			bx := m.begin(mm, x)
			call(m, mm, records(m, 1, 3, 4), outDone)
			m.end(mm, x, bx, outDone, time.Millisecond)
		}, ""},
		{"key: two calls at once holding one key", false, func(m *model, mm *memberModel) {
			keyed(m, OrderKey, "a", "b", "a")
			x := records(m, 0, 1)
			bx := m.begin(mm, x)
			call(m, mm, records(m, 2), outDone)
			m.end(mm, x, bx, outDone, time.Millisecond)
		}, "one-call-per-key"},
		{"key: calls beyond processor.concurrency", false, func(m *model, mm *memberModel) {
			keyed(m, OrderKey, "a", "b", "c")
			x, y := records(m, 0), records(m, 1)
			bx, by := m.begin(mm, x), m.begin(mm, y)
			call(m, mm, records(m, 2), outDone)
			m.end(mm, x, bx, outDone, time.Millisecond)
			m.end(mm, y, by, outDone, time.Millisecond)
		}, "concurrency-bound"},
		{"key: a key's later record first", false, func(m *model, mm *memberModel) {
			keyed(m, OrderKey, "a", "b", "a")
			call(m, mm, records(m, 1, 2), outDone)
			call(m, mm, records(m, 0), outDone)
		}, "order-of-first-deliveries"},
		{"key: records without a key in any order", false, func(m *model, mm *memberModel) {
			keyed(m, OrderKey, "", "", "a")
			call(m, mm, records(m, 1, 2), outDone)
			call(m, mm, records(m, 0), outDone)
		}, ""},
		{"key: a commit above the lowest unfinished record", false, func(m *model, mm *memberModel) {
			keyed(m, OrderKey, "a", "b", "c")
			join(m, "a")
			sync(m, map[string][]int32{"a": {0}})
			call(m, mm, records(m, 0), outDone)
			call(m, mm, records(m, 2), outDone)
			call(m, mm, records(m, 1), outFailed)
			commit(m, "a", 0, 1)
			commit(m, "a", 0, 3) // the highest finished, not the lowest unfinished
		}, "commit-finished"},
		{"none: any order, concurrency calls at once", false, func(m *model, mm *memberModel) {
			keyed(m, OrderNone, "a", "a", "a")
			x := records(m, 2)
			bx := m.begin(mm, x)
			call(m, mm, records(m, 1), outDone)
			m.end(mm, x, bx, outDone, time.Millisecond)
			call(m, mm, records(m, 0), outDone)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(topic, 2, tc.skip, 2)
			tc.run(m, newMemberModel("A1"))
			got, _ := m.firstViolation()
			if got != tc.broken {
				t.Fatalf("broken invariant %q, want %q; events:\n%s", got, tc.broken, strings.Join(m.events, "\n"))
			}
		})
	}
}
