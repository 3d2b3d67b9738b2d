package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestOffsetsCommand runs veltrix offsets as an operator would: show, a dry
// run that changes nothing, an execution with its audit line, JSON and
// metrics file, the refusal while a member is live, and the flag mistakes
// (exit 2) and cluster refusals (exit 1).
func TestOffsetsCommand(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, grp := kafkatest.Name(t, "topic"), kafkatest.Name(t, "group")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		for i := range 20 {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte("x")})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		adm := kadm.NewClient(cl)
		os0 := kadm.Offsets{}
		os0.Add(kadm.Offset{Topic: topic, Partition: 0, At: 7, LeaderEpoch: -1})
		if err := adm.CommitAllOffsets(context.Background(), grp, os0); err != nil {
			t.Fatal(err)
		}
		committed := func() map[int32]int64 {
			resp, err := adm.FetchOffsets(context.Background(), grp)
			if err != nil {
				t.Fatal(err)
			}
			out := map[int32]int64{}
			resp.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
			return out
		}
		brokers := strings.Join(c.Brokers, ",")
		base := []string{"--brokers", brokers, "--group", grp, "--topic", topic}

		r := veltrix(t, 30*time.Second, "", append([]string{"offsets", "show", "--json"}, base...)...)
		var show showJSON
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &show) != nil {
			t.Fatalf("show: exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		if len(show.Partitions) != 2 || *show.Partitions[0].Committed != 7 || show.Partitions[0].Lag != 3 ||
			show.Partitions[1].Committed != nil || show.Partitions[1].LogEndOffset != 10 {
			t.Fatalf("show: %+v", show.Partitions)
		}

		r = veltrix(t, 30*time.Second, "", append([]string{"offsets", "reset", "--shift-by", "-5"}, base...)...)
		for _, want := range []string{"dry run", "PARTITION", "REPLAYED", "total: 0 skipped, 5 replayed"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("dry run lacks %q:\n%s", want, r.stdout)
			}
		}
		if got := committed(); r.code != 0 || got[0] != 7 || len(got) != 1 {
			t.Fatalf("dry run: exit %d, offsets %v: %s", r.code, got, r.stderr)
		}

		mfile := filepath.Join(t.TempDir(), "veltrix_offsets.prom")
		for i := range 2 {
			r = veltrix(t, 30*time.Second, "", append([]string{"offsets", "reset", "--to-earliest", "--partitions", "0",
				"--execute", "--json", "--metrics-file", mfile, "--log.format", "json"}, base...)...)
			var res resetJSON
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil {
				t.Fatalf("execute: exit %d: %s %s", r.code, r.stdout, r.stderr)
			}
			wantCommitted := 1 - i // the second run has nothing to change
			if !res.Executed || res.Committed != wantCommitted || len(res.Partitions) != 1 || res.Partitions[0].To != 0 {
				t.Fatalf("execute %d: %+v", i, res)
			}
			if i == 0 && (!strings.Contains(r.stderr, `"msg":"offsets reset applied"`) || !strings.Contains(r.stderr, `"partitions":"0:7->0"`)) {
				t.Errorf("no audit line on stderr: %s", r.stderr)
			}
		}
		if got := committed(); got[0] != 0 {
			t.Fatalf("after execute: %v", got)
		}
		prom, err := os.ReadFile(mfile)
		if err != nil || !strings.Contains(string(prom), `veltrix_offset_resets_total{group="`+grp+`",target="to-earliest",topic="`+topic+`"} 1`) {
			t.Fatalf("metrics file: %v\n%s", err, prom)
		}
		r = veltrix(t, 30*time.Second, "", append([]string{"offsets", "reset", "--to-latest", "--execute", "--metrics-file", mfile}, base...)...)
		prom, _ = os.ReadFile(mfile)
		if r.code != 0 || !strings.Contains(string(prom), `target="to-earliest",topic="`+topic+`"} 1`) ||
			!strings.Contains(string(prom), `target="to-latest",topic="`+topic+`"} 1`) {
			t.Fatalf("the metrics file lost a count: exit %d %s\n%s", r.code, r.stderr, prom)
		}

		member, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic),
			kgo.ClientID("still-running"), kgo.DisableAutoCommit())
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
			d, err := adm.DescribeGroups(context.Background(), grp)
			return err == nil && len(d[grp].Members) == 1
		})

		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{append([]string{"offsets", "reset", "--to-earliest"}, base...), 1, "live member(s): still-running"},
			{append([]string{"offsets", "reset", "--to-earliest", "--to-latest"}, base...), 2, "exactly one target"},
			{append([]string{"offsets", "reset"}, base...), 2, "give one target"},
			{append([]string{"offsets", "reset", "--to-datetime", "2999-01-01T00:00:00Z"}, base...), 2, "in the future"},
			{append([]string{"offsets", "reset", "--to-datetime", "yesterday"}, base...), 2, "want an RFC 3339 time"},
			{append([]string{"offsets", "reset", "--skip-halted"}, base...), 1, "live member(s): still-running"},
			{[]string{"offsets", "reset", "--to-earliest", "--brokers", brokers, "--topic", topic}, 2, "--group and --topic are required"},
			{[]string{"offsets", "show", "--brokers", brokers, "--group", grp + "-nope"}, 1, "unknown group"},
		} {
			r := veltrix(t, 30*time.Second, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args[2:], r.code, r.stderr, tc.code, tc.want)
			}
		}
	})
}
