package main

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestLagCommand runs veltrix lag --once as a user would: the table and the
// JSON show the committed offset, end, lag and a status for a group with no
// members — STOP, not OK: --once takes the second sample that shows nobody
// commits (issue 17: --once always said OK) —, and a bad --group pattern
// exits 2 before connecting.
func TestLagCommand(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		stamped := time.Now().Add(-30 * time.Second)
		for i := range 12 {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte("x"), Timestamp: stamped})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		os := make(kadm.Offsets)
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 2, LeaderEpoch: -1})
		if err := kadm.NewClient(cl).CommitAllOffsets(context.Background(), grp, os); err != nil {
			t.Fatal(err)
		}
		brokers := strings.Join(c.Brokers, ",")

		r := veltrix(t, 30*time.Second, "", "lag", "--once", "--json", "--brokers", brokers, "--group", "^"+grp+"$")
		// The time lag is measured when the command polls, which a loaded
		// machine (building the binary, say) may delay well past 30s.
		ceiling := time.Since(stamped).Seconds() + 1
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var out struct {
			Groups []struct {
				Group      string `json:"group"`
				Status     string `json:"status"`
				SumLag     int64  `json:"sum_lag"`
				Partitions []struct {
					Partition      int32    `json:"partition"`
					CurrentOffset  *int64   `json:"current_offset"`
					LogEndOffset   int64    `json:"log_end_offset"`
					Lag            int64    `json:"lag"`
					TimeLagSeconds *float64 `json:"time_lag_seconds"`
				} `json:"partitions"`
			} `json:"groups"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("not JSON: %v: %s", err, r.stdout)
		}
		if len(out.Groups) != 1 || out.Groups[0].Group != grp || out.Groups[0].SumLag != 4 || out.Groups[0].Status != "STOP" {
			t.Fatalf("groups %+v", out.Groups)
		}
		p := out.Groups[0].Partitions
		if len(p) != 1 || *p[0].CurrentOffset != 2 || p[0].LogEndOffset != 6 || p[0].Lag != 4 ||
			p[0].TimeLagSeconds == nil || *p[0].TimeLagSeconds < 29 || *p[0].TimeLagSeconds > ceiling {
			t.Fatalf("partitions %+v", p)
		}

		r = veltrix(t, 30*time.Second, "", "lag", "--once", "--brokers", brokers, "--group", "^"+grp+"$")
		for _, want := range []string{"GROUP", "CURRENT-OFFSET", "LOG-END-OFFSET", "TIME-LAG", "STATUS", grp, "STOP", "no active members", "TOTAL"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	r := veltrix(t, 10*time.Second, "", "lag", "--once", "--brokers", "127.0.0.1:1", "--group", "(")
	if r.code != 2 || !strings.Contains(r.stderr, "lag.groups") {
		t.Fatalf("bad pattern: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestLagWatchAndNoMatch: --watch prints a header with the time and the
// interval and a TOTAL row under each table; a --group that matches nothing
// lists the groups that exist and exits 1 (issue 17: it printed "no
// consumer groups match" and exited 0, or watched nothing forever).
func TestLagWatchAndNoMatch(t *testing.T) {
	brokers := kafkatest.Real(t)
	topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
	kafkatest.CreateTopic(t, brokers, topic, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	os := make(kadm.Offsets)
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(context.Background(), grp, os); err != nil {
		t.Fatal(err)
	}
	b := strings.Join(brokers, ",")

	r := veltrix(t, 30*time.Second, "", "lag", "--once", "--brokers", b, "--group", "^"+grp+"-nothing$")
	if r.code != 1 || !strings.Contains(r.stdout, grp) || !strings.Contains(r.stderr, "no consumer group matches") {
		t.Fatalf("no match: exit %d, want 1 listing %s\nstdout: %s\nstderr: %s", r.code, grp, r.stdout, r.stderr)
	}
	r = veltrix(t, 30*time.Second, "", "lag", "--watch", "--brokers", b, "--group", "^"+grp+"-nothing$")
	if r.code != 1 || !strings.Contains(r.stdout, grp) {
		t.Fatalf("--watch, no match: exit %d, want 1 listing %s\nstdout: %s\nstderr: %s", r.code, grp, r.stdout, r.stderr)
	}

	p := startVeltrix(t, "lag", "--watch", "--brokers", b, "--group", "^"+grp+"$", "--lag.interval", "200ms")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Two tables, each under its header and with a total row.
	re := regexp.MustCompile(`(?s)veltrix lag  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  every 200ms.*TOTAL +1 groups +1 partitions +1 .*veltrix lag  \d{4}-.*TOTAL`)
	if _, err := p.WaitOutput(ctx, re); err != nil {
		t.Fatalf("--watch output lacks header and total rows: %v\n%s", err, p.Stdout())
	}
}

// TestLagTopicFilter: --topic, --topic.names and --topic.pattern keep only
// those topics of a group that commits to several, its total counting only
// them; without them every topic is reported.
func TestLagTopicFilter(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		base, grp := kafkatest.Name(t, "lagtopics"), kafkatest.Name(t, "group")
		orders1, orders2, payments := base+"-orders-1", base+"-orders-2", base+"-payments"
		lags := map[string]int64{orders1: 1, orders2: 2, payments: 4} // one partition each
		cl := kafkatest.Client(t, c.Brokers)
		offsets := make(kadm.Offsets)
		for topic, lag := range lags {
			kafkatest.CreateTopic(t, c.Brokers, topic, 1)
			var recs []*kgo.Record
			for range 5 {
				recs = append(recs, &kgo.Record{Topic: topic, Value: []byte("x")})
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 5 - lag, LeaderEpoch: -1})
		}
		if err := kadm.NewClient(cl).CommitAllOffsets(context.Background(), grp, offsets); err != nil {
			t.Fatal(err)
		}
		brokers := strings.Join(c.Brokers, ",")
		for _, tc := range []struct {
			name   string
			filter []string
			want   []string // topics reported
		}{
			{"none", nil, []string{orders1, orders2, payments}},
			{"topic", []string{"--topic", payments}, []string{payments}},
			{"names", []string{"--topic.names", orders1 + "," + payments}, []string{orders1, payments}},
			{"pattern", []string{"--topic.pattern", regexp.QuoteMeta(base) + "-orders-.*"}, []string{orders1, orders2}},
		} {
			args := append([]string{"lag", "--once", "--json", "--brokers", brokers, "--group", "^" + grp + "$"}, tc.filter...)
			r := veltrix(t, 30*time.Second, "", args...)
			if r.code != 0 {
				t.Fatalf("%s: exit %d: %s", tc.name, r.code, r.stderr)
			}
			var out struct {
				Groups []struct {
					SumLag     int64 `json:"sum_lag"`
					Partitions []struct {
						Topic string `json:"topic"`
						Lag   int64  `json:"lag"`
					} `json:"partitions"`
				} `json:"groups"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("%s: not JSON: %v: %s", tc.name, err, r.stdout)
			}
			if len(out.Groups) != 1 {
				t.Fatalf("%s: groups %+v", tc.name, out.Groups)
			}
			var got []string
			var sum int64
			for _, p := range out.Groups[0].Partitions {
				got = append(got, p.Topic)
				if p.Lag != lags[p.Topic] {
					t.Errorf("%s: %s lag %d, want %d", tc.name, p.Topic, p.Lag, lags[p.Topic])
				}
			}
			for _, topic := range tc.want {
				sum += lags[topic]
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || out.Groups[0].SumLag != sum {
				t.Errorf("%s: topics %v with total lag %d, want %v with %d", tc.name, got, out.Groups[0].SumLag, tc.want, sum)
			}
		}
	})
}
