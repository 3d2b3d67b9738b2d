package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/autoscale"
)

func TestScaleUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scale"}, "--group is required"},
		{[]string{"scale", "--group", "g", "--polls", "1"}, "want at least 2"},
		{[]string{"scale", "--group", "g", "--autoscale.target_utilization", "2"}, "autoscale.target_utilization"},
	} {
		r := veltrix(t, 30*time.Second, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestScaleJSON: a group with lag and no member (stopped, or between
// deployments) is held, and says why; --json carries the figures.
func TestScaleJSON(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 6)
		cl := kafkatest.Client(t, c.Brokers)
		recs := make([]*kgo.Record, 60)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Value: []byte("x")}
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
		if err := kadm.NewClient(cl).CommitAllOffsets(context.Background(), grp, os); err != nil {
			t.Fatal(err)
		}
		r := veltrix(t, 60*time.Second, "", "scale", "--brokers", strings.Join(c.Brokers, ","), "--group", grp,
			"--polls", "2", "--lag.interval", "200ms", "--json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var rec autoscale.Recommendation
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		if rec.Group != grp || !rec.Held || rec.Replicas != 1 || rec.Members != 0 {
			t.Errorf("got %+v; want group %s held at 1 with no members", rec, grp)
		}
		if !strings.Contains(strings.Join(rec.Reasons, " "), "no members") {
			t.Errorf("reasons %v do not say the group has no members", rec.Reasons)
		}
	})
}
