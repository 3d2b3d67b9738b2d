package offsets

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// fixture is a two-partition topic with two batches of ten records per
// partition, stamped a minute apart (offsets 0-9 at t1, 10-19 at t2), and
// partition 1's log start moved to 8 by DeleteRecords, as retention would.
type fixture struct {
	brokers []string
	cl      *kgo.Client
	adm     *kadm.Client
	topic   string
	t1, t2  time.Time
}

func newFixture(t *testing.T, c kafkatest.Cluster) *fixture {
	t.Helper()
	f := &fixture{brokers: c.Brokers, topic: kafkatest.Name(t, "topic")}
	kafkatest.CreateTopic(t, c.Brokers, f.topic, 2)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	f.cl, f.adm = cl, kadm.NewClient(cl)
	f.t1 = time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	f.t2 = f.t1.Add(time.Minute)
	ctx := context.Background()
	for _, at := range []time.Time{f.t1, f.t2} {
		var recs []*kgo.Record
		for p := range int32(2) {
			for range 10 {
				recs = append(recs, &kgo.Record{Topic: f.topic, Partition: p, Value: []byte("x"), Timestamp: at})
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: f.topic, Partition: 1, At: 8})
	resp, err := f.adm.DeleteRecords(ctx, del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("deleting records: %v", err)
	}
	return f
}

// group creates a group with the given committed offsets.
func (f *fixture) group(t *testing.T, commits map[int32]int64) string {
	t.Helper()
	g := kafkatest.Name(t, "group")
	os := kadm.Offsets{}
	for p, at := range commits {
		os.Add(kadm.Offset{Topic: f.topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	if err := f.adm.CommitAllOffsets(context.Background(), g, os); err != nil {
		t.Fatal(err)
	}
	return g
}

// committed returns the group's committed offsets on the fixture's topic.
func (f *fixture) committed(t *testing.T, group string) map[int32]int64 {
	t.Helper()
	resp, err := f.adm.FetchOffsets(context.Background(), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil // kfake, before the group's first commit
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == f.topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

func (f *fixture) plan(t *testing.T, group string, target Target, parts []int32) (*Plan, error) {
	t.Helper()
	ctx := context.Background()
	st, err := Read(ctx, f.cl, group, f.topic, lag.DefaultConfig())
	if err != nil {
		return nil, err
	}
	return Build(ctx, f.cl, st, f.topic, target, parts)
}

// want is one expected row: where it moves, and what it skips or replays.
type want struct {
	part              int32
	to                int64
	clamped           Clamp
	skipped, replayed int64
}

// TestPlanAndApplyEveryTarget plans and then applies every target kind on
// a group at partition 0 offset 5 and partition 1 offset 3, below its log
// start of 8 (the records 3-7 were deleted before the group read them).
func TestPlanAndApplyEveryTarget(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		f := newFixture(t, c)
		between := f.t1.Add(30 * time.Second)
		cases := []struct {
			name   string
			target Target
			parts  []int32
			rows   []want
		}{
			{"earliest", Target{Kind: ToEarliest}, nil,
				[]want{{0, 0, ClampNone, 0, 5}, {1, 8, ClampNone, 0, 0}}},
			{"latest", Target{Kind: ToLatest}, nil,
				[]want{{0, 20, ClampNone, 15, 0}, {1, 20, ClampNone, 12, 0}}},
			{"offset", Target{Kind: ToOffset, Offset: 4}, nil,
				[]want{{0, 4, ClampNone, 0, 1}, {1, 8, ClampStart, 0, 0}}},
			{"offset past the end", Target{Kind: ToOffset, Offset: 100}, nil,
				[]want{{0, 20, ClampEnd, 15, 0}, {1, 20, ClampEnd, 12, 0}}},
			{"datetime between the batches", Target{Kind: ToDatetime, Time: between}, nil,
				[]want{{0, 10, ClampNone, 5, 0}, {1, 10, ClampNone, 2, 0}}},
			{"datetime before every record", Target{Kind: ToDatetime, Time: f.t1.Add(-time.Hour)}, nil,
				[]want{{0, 0, ClampNone, 0, 5}, {1, 8, "", 0, 0}}},
			{"shift forward", Target{Kind: ShiftBy, Shift: 3}, nil,
				[]want{{0, 8, ClampNone, 3, 0}, {1, 11, ClampNone, 3, 0}}},
			{"shift back past the start", Target{Kind: ShiftBy, Shift: -7}, nil,
				[]want{{0, 0, ClampStart, 0, 5}, {1, 8, ClampStart, 0, 0}}},
			{"narrowed to partition 1", Target{Kind: ToLatest}, []int32{1},
				[]want{{1, 20, ClampNone, 12, 0}}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				g := f.group(t, map[int32]int64{0: 5, 1: 3})
				p, err := f.plan(t, g, tc.target, tc.parts)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Rows) != len(tc.rows) {
					t.Fatalf("%d rows, want %d: %+v", len(p.Rows), len(tc.rows), p.Rows)
				}
				for i, w := range tc.rows {
					r := p.Rows[i]
					// Before every record, Kafka answers the log start and
					// kfake may answer 0: either way the row ends at 8.
					clampOK := r.Clamped == w.clamped || tc.target.Kind == ToDatetime && w.part == 1
					if r.Partition != w.part || r.To != w.to || !clampOK || r.Skipped() != w.skipped || r.Replayed() != w.replayed {
						t.Errorf("row %d: partition %d from %d to %d clamped %q skipped %d replayed %d; want %+v",
							i, r.Partition, r.From, r.To, r.Clamped, r.Skipped(), r.Replayed(), w)
					}
				}

				reg := prometheus.NewRegistry()
				m := metrics.NewOffsets(reg)
				var audit bytes.Buffer
				res, err := Apply(context.Background(), f.cl, p, ApplyOptions{Who: "ops@test",
					Audit: slog.New(slog.NewJSONHandler(&audit, nil)), Metrics: m})
				if err != nil {
					t.Fatal(err)
				}
				got := f.committed(t, g)
				for _, w := range tc.rows {
					if got[w.part] != w.to {
						t.Errorf("partition %d committed at %d after apply, want %d", w.part, got[w.part], w.to)
					}
				}
				if tc.parts != nil && got[0] != 5 {
					t.Errorf("partition 0, not chosen, moved to %d", got[0])
				}
				if len(res.Committed) != len(p.Changes()) {
					t.Errorf("committed %d rows, plan changes %d", len(res.Committed), len(p.Changes()))
				}
				if n := testutil.ToFloat64(m.Resets.WithLabelValues(g, f.topic, string(tc.target.Kind))); n != 1 {
					t.Errorf("veltrix_offset_resets_total = %g, want 1", n)
				}
				line := audit.String()
				for _, s := range []string{`"msg":"offsets reset applied"`, `"who":"ops@test"`, `"group":"` + g + `"`,
					`"target":"` + tc.target.String() + `"`, `"time":`} {
					if !strings.Contains(line, s) {
						t.Errorf("audit line lacks %s: %s", s, line)
					}
				}
				if strings.Count(line, "\n") != 1 {
					t.Errorf("want one audit line, got %q", line)
				}
			})
		}
	})
}

// TestResetRefusedWhileMembersLive: a reset of a group with a live member
// is refused when planned, naming the member, and when applied after a
// member joined since the plan.
func TestResetRefusedWhileMembersLive(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		f := newFixture(t, c)
		g := f.group(t, map[int32]int64{0: 5, 1: 9})
		early, err := f.plan(t, g, Target{Kind: ToEarliest}, nil)
		if err != nil {
			t.Fatal(err)
		}

		member, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.ConsumerGroup(g), kgo.ConsumeTopics(f.topic),
			kgo.ClientID("live-member"), kgo.DisableAutoCommit())
		if err != nil {
			t.Fatal(err)
		}
		defer member.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			for ctx.Err() == nil {
				member.PollFetches(ctx)
			}
		}()
		kafkatest.Eventually(t, 30*time.Second, "the member to join", func() bool {
			d, err := f.adm.DescribeGroups(context.Background(), g)
			return err == nil && len(d[g].Members) == 1 && d[g].State == "Stable"
		})

		_, err = f.plan(t, g, Target{Kind: ToEarliest}, nil)
		var lm *LiveMembersError
		if !errors.As(err, &lm) || len(lm.Members) != 1 || !strings.Contains(err.Error(), "live-member") {
			t.Fatalf("plan with a live member: %v, want a LiveMembersError naming live-member", err)
		}
		_, err = Apply(context.Background(), f.cl, early, ApplyOptions{})
		if !errors.As(err, &lm) {
			t.Fatalf("apply after a member joined: %v, want a LiveMembersError", err)
		}
		if got := f.committed(t, g); got[0] != 5 || got[1] != 9 {
			t.Fatalf("offsets moved to %v while refused", got)
		}
	})
}

// TestBadInput: an unknown group or topic, a future time, a partition the
// topic lacks, and skip-halted where nothing can have halted.
func TestBadInput(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		f := newFixture(t, c)
		ctx := context.Background()
		if _, err := Read(ctx, f.cl, kafkatest.Name(t, "nobody"), f.topic, lag.DefaultConfig()); !errors.Is(err, ErrUnknownGroup) {
			t.Errorf("unknown group: %v", err)
		}
		g := f.group(t, map[int32]int64{0: 20})
		if _, err := Read(ctx, f.cl, g, kafkatest.Name(t, "missing"), lag.DefaultConfig()); !errors.Is(err, ErrUnknownTopic) {
			t.Errorf("unknown topic: %v", err)
		}
		for _, tc := range []struct {
			name   string
			target Target
			parts  []int32
			want   string
		}{
			{"future", Target{Kind: ToDatetime, Time: time.Now().Add(time.Hour)}, nil, "in the future"},
			{"no such partition", Target{Kind: ToLatest}, []int32{2}, "has no partition 2 (it has 0-1)"},
			{"skip-halted unnamed, none noted", Target{Kind: SkipHalted}, nil, "no partition of"},
			{"skip-halted at the end", Target{Kind: SkipHalted}, []int32{0}, "no record there to have halted on"},
			{"skip-halted without a commit", Target{Kind: SkipHalted}, []int32{1}, "has no committed offset"},
			{"negative offset", Target{Kind: ToOffset, Offset: -1}, nil, "want an offset of 0 or more"},
		} {
			_, err := f.plan(t, g, tc.target, tc.parts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
			}
		}
		g2 := f.group(t, map[int32]int64{1: 3})
		if _, err := f.plan(t, g2, Target{Kind: SkipHalted}, []int32{1}); err == nil || !strings.Contains(err.Error(), "below the log start") {
			t.Errorf("skip-halted below the log start: %v", err)
		}
	})
}
