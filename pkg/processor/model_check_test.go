package processor

import (
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(topic, 2, tc.skip, 2)
			tc.run(m, &memberModel{name: "A1", inflight: map[int32]int{}})
			got, _ := m.firstViolation()
			if got != tc.broken {
				t.Fatalf("broken invariant %q, want %q; events:\n%s", got, tc.broken, strings.Join(m.events, "\n"))
			}
		})
	}
}
