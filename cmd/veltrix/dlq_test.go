package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/dlq"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestDLQCommand runs veltrix dlq as a real process: its output, --json,
// the dry run, and its exit codes for bad input (2 for the command line,
// 1 for a topic that is missing or holds no dead letters). The dead letters
// here carry the engine's headers; internal/dlq tests the ones the engine
// writes itself.
func TestDLQCommand(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		b := strings.Join(c.Brokers, ",")
		src, dlqTopic, plain := kafkatest.Name(t, "src"), kafkatest.Name(t, "dlq"), kafkatest.Name(t, "plain")
		if err := kafkatest.CreateTopics(context.Background(), c.Brokers, 1, src, dlqTopic, plain); err != nil {
			t.Fatal(err)
		}
		cl := kafkatest.Client(t, c.Brokers)
		letter := func(off int, err string) *kgo.Record {
			return &kgo.Record{Topic: dlqTopic, Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{
				{Key: "trace", Value: []byte("t")},
				{Key: processor.HeaderDLQTopic, Value: []byte(src)},
				{Key: processor.HeaderDLQPartition, Value: []byte("0")},
				{Key: processor.HeaderDLQOffset, Value: []byte{byte('0' + off)}},
				{Key: processor.HeaderDLQError, Value: []byte(err)},
				{Key: processor.HeaderDLQAttempts, Value: []byte("3")},
				{Key: processor.HeaderDLQTime, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
			}}
		}
		recs := []*kgo.Record{letter(1, "db timeout"), letter(4, "bad json"), letter(7, "db timeout"), {Topic: plain, Value: []byte("x")}}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}

		r := veltrix(t, 60*time.Second, "", "dlq", "inspect", "--brokers", b, "--topic", dlqTopic)
		if r.code != 0 || !strings.Contains(r.stdout, "3 dead letters") || !strings.Contains(r.stdout, "2      db timeout") ||
			!strings.Contains(r.stdout, src+"/0@7") {
			t.Fatalf("inspect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = veltrix(t, 60*time.Second, "", "dlq", "inspect", "--brokers", b, "--topic", dlqTopic, "--json", "--limit", "1")
		var s dlq.Summary
		if err := json.Unmarshal([]byte(r.stdout), &s); r.code != 0 || err != nil || s.DeadLetters != 3 || len(s.Letters) != 1 || s.More != 2 || s.ByError[0].Count != 2 {
			t.Fatalf("inspect --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		r = veltrix(t, 60*time.Second, "", "dlq", "replay", "--brokers", b, "--topic", dlqTopic, "--filter-error", "timeout")
		if r.code != 0 || !strings.Contains(r.stdout, "dry run: would replay 2 dead letters") || !strings.Contains(r.stdout, "1 not matching --filter-error") {
			t.Fatalf("replay dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r = veltrix(t, 60*time.Second, "", "dlq", "replay", "--brokers", b, "--topic", dlqTopic, "--filter-error", "timeout", "--execute", "--json")
		var res dlq.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); r.code != 0 || err != nil || res.Replayed != 2 || res.Targets[src] != 2 {
			t.Fatalf("replay --execute --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}

		for _, tc := range []struct {
			name string
			code int
			want string
			args []string
		}{
			{"unknown topic", 1, "does not exist", []string{"inspect", "--topic", kafkatest.Name(t, "missing")}},
			{"no dead-letter headers", 1, "is not a dead-letter topic", []string{"inspect", "--topic", plain}},
			{"replay of no dead letters", 1, "is not a dead-letter topic", []string{"replay", "--topic", plain}},
			{"unknown target", 1, "does not exist", []string{"replay", "--topic", dlqTopic, "--to", kafkatest.Name(t, "missing")}},
			{"bad regex", 2, "--filter-error", []string{"replay", "--topic", dlqTopic, "--filter-error", "(timeout"}},
			{"no topic", 2, "--topic is required", []string{"inspect"}},
			{"bad since", 2, "--since", []string{"inspect", "--topic", dlqTopic, "--since", "yesterday"}},
			{"future since", 2, "in the future", []string{"replay", "--topic", dlqTopic, "--since", "2999-01-01T00:00:00Z"}},
			{"cap below 1", 2, "--max-replays", []string{"replay", "--topic", dlqTopic, "--max-replays", "0"}},
		} {
			r := veltrix(t, 60*time.Second, "", append([]string{"dlq"}, append(tc.args, "--brokers", b)...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%s: exit %d, want %d with %q\n%s", tc.name, r.code, tc.code, tc.want, r.stderr)
			}
		}
	})
}
