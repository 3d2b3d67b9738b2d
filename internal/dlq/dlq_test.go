package dlq_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/dlq"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/verify"
	"github.com/veltrix/veltrix/pkg/handler"
)

type srcKey struct {
	part int32
	off  int64
}

// TestInspectAndReplayPoisonRun inspects the dead letters of a real poison
// run and replays them to another topic: each poisoned event arrives there
// exactly once, nothing else does, and the dry run before writes nothing.
func TestInspectAndReplayPoisonRun(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, dlqTopic, out := kafkatest.Name(t, "in"), kafkatest.Name(t, "dlq"), kafkatest.Name(t, "replayed")
		kafkatest.CreateTopic(t, c.Brokers, topic, 3)
		kafkatest.CreateTopic(t, c.Brokers, dlqTopic, 2)
		kafkatest.CreateTopic(t, c.Brokers, out, 3)
		ctx := context.Background()
		sim := handler.NewSimulate(handler.SimulateConfig{FailureRate: 0.05})
		produceEvents(t, c, topic, 600, 40)

		// The records the handler fails, as the input holds them.
		input := readAll(t, c, topic)
		poisoned := map[srcKey]*kgo.Record{}
		for _, r := range input {
			if sim.Poisoned(r.Key, r.Value) {
				poisoned[srcKey{r.Partition, r.Offset}] = r
			}
		}
		n := len(poisoned)
		if n < 10 || n > 100 {
			t.Fatalf("%d of 600 records poisoned at a 5%% rate", n)
		}
		started := time.Now()
		stop := runProcessor(t, c, topic, dlqTopic, sim)
		waitRecords(t, c, dlqTopic, int64(n))
		stop()

		cl := client(t, c)
		s, err := dlq.Inspect(ctx, cl, opts(c), dlqTopic, dlq.InspectConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if s.DeadLetters != n || s.Other != 0 || s.Replayed != 0 || s.More != 0 || len(s.Letters) != n {
			t.Fatalf("inspect: %d dead letters (%d other, %d replayed, %d listed, %d more), want %d", s.DeadLetters, s.Other, s.Replayed, len(s.Letters), s.More, n)
		}
		if len(s.ByError) != 1 || s.ByError[0].Error != handler.ErrSimulated.Error() || s.ByError[0].Count != n || s.ByError[0].Sources[topic] != n {
			t.Fatalf("inspect by error: %+v, want %d × %q from %s", s.ByError, n, handler.ErrSimulated, topic)
		}
		for i, row := range s.Letters {
			r, ok := poisoned[srcKey{row.Source.Partition, row.Source.Offset}]
			switch {
			case row.Source.Topic != topic || !ok:
				t.Fatalf("letter %d names source %+v, not a poisoned record of %s", i, row.Source, topic)
			case row.Attempts != 2 || row.FailedAt.Before(started.Add(-time.Second)) || row.Replays != 0:
				t.Fatalf("letter %d: attempts %d, failed at %s, replays %d", i, row.Attempts, row.FailedAt, row.Replays)
			case row.Key != string(r.Key) || row.ValueBytes != len(r.Value) || row.Headers != len(r.Headers):
				t.Fatalf("letter %d: key %s, %d value bytes, %d headers; the record had %s, %d, %d", i, row.Key, row.ValueBytes, row.Headers, r.Key, len(r.Value), len(r.Headers))
			case i > 0 && row.Timestamp.Before(s.Letters[i-1].Timestamp):
				t.Fatalf("letters not oldest first at %d", i)
			}
		}
		if s, err := dlq.Inspect(ctx, cl, opts(c), dlqTopic, dlq.InspectConfig{Limit: 5}); err != nil || len(s.Letters) != 5 || s.More != n-5 || s.ByError[0].Count != n {
			t.Fatalf("inspect --limit 5: %d listed, %d more, err %v", len(s.Letters), s.More, err)
		}
		if s, err := dlq.Inspect(ctx, cl, opts(c), dlqTopic, dlq.InspectConfig{Since: time.Now().Add(time.Second)}); err != nil || s.DeadLetters != 0 {
			t.Fatalf("inspect --since after the run: %d dead letters, err %v", s.DeadLetters, err)
		}

		// A dry run writes nothing.
		res, err := dlq.Replay(ctx, cl, opts(c), dlqTopic, dlq.ReplayConfig{To: out, MaxReplays: dlq.DefaultMaxReplays})
		if err != nil || res.Selected != n || res.Replayed != 0 || res.Targets[out] != n {
			t.Fatalf("dry run: %+v, err %v", res, err)
		}
		if got := records(t, kafkatest.Admin(t, c.Brokers), out); got != 0 {
			t.Fatalf("a dry run wrote %d records", got)
		}
		// A filter that matches nothing selects nothing.
		res, err = dlq.Replay(ctx, cl, opts(c), dlqTopic, dlq.ReplayConfig{To: out, MaxReplays: 3, FilterError: regexp.MustCompile("^timeout")})
		if err != nil || res.Selected != 0 || res.Filtered != n {
			t.Fatalf("filtered dry run: %+v, err %v", res, err)
		}

		res, err = dlq.Replay(ctx, cl, opts(c), dlqTopic, dlq.ReplayConfig{To: out, MaxReplays: 3, FilterError: regexp.MustCompile("simulated"), Execute: true})
		if err != nil || res.Replayed != n || res.Failed != 0 {
			t.Fatalf("replay: %+v, err %v", res, err)
		}
		replayed := readAll(t, c, out)
		check := verify.NewChecker()
		for _, r := range poisoned {
			check.Input(r)
		}
		for _, r := range replayed {
			check.Output(r)
			if h := header(r, dlq.HeaderReplayCount); h != "1" {
				t.Fatalf("replayed record has %s %q, want 1", dlq.HeaderReplayCount, h)
			}
		}
		rep := check.Report()
		if rep.Total.Delivered != int64(n) || rep.Total.Duplicated != 0 || rep.Total.Lost != 0 || rep.Strays != 0 || len(replayed) != n {
			t.Fatalf("replayed %d records: %+v, strays %d; want each of %d once", len(replayed), rep.Total, rep.Strays, n)
		}
	})
}

// TestReplayCap replays dead letters back to their source while the
// engine still fails them: each round's records come back as dead letters
// with a replay count one higher, in the partition they came from, until
// the cap skips them all.
func TestReplayCap(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, dlqTopic := kafkatest.Name(t, "in"), kafkatest.Name(t, "dlq")
		kafkatest.CreateTopic(t, c.Brokers, topic, 2)
		kafkatest.CreateTopic(t, c.Brokers, dlqTopic, 1)
		ctx := context.Background()
		const n = 20
		produceEvents(t, c, topic, n, 7)
		runProcessor(t, c, topic, dlqTopic, handler.NewSimulate(handler.SimulateConfig{FailureRate: 1}))
		waitRecords(t, c, dlqTopic, n)
		cl := client(t, c)

		first, err := dlq.Inspect(ctx, cl, opts(c), dlqTopic, dlq.InspectConfig{})
		if err != nil {
			t.Fatal(err)
		}
		partOf := map[string]int32{} // key → its source partition
		for _, l := range first.Letters {
			partOf[l.Key] = l.Source.Partition
		}
		var since time.Time // the dead letters of the latest round are those written after it
		for round := 1; round <= dlq.DefaultMaxReplays; round++ {
			mark := time.Now()
			res, err := dlq.Replay(ctx, cl, opts(c), dlqTopic, dlq.ReplayConfig{Since: since, MaxReplays: dlq.DefaultMaxReplays, Execute: true})
			if err != nil || res.Replayed != n || res.Capped != 0 || res.Targets[topic] != n {
				t.Fatalf("round %d: %+v, err %v", round, res, err)
			}
			since = mark
			waitRecords(t, c, dlqTopic, int64(n*(round+1)))
		}
		last, err := dlq.Inspect(ctx, cl, opts(c), dlqTopic, dlq.InspectConfig{Since: since})
		if err != nil || last.DeadLetters != n || last.Replayed != n {
			t.Fatalf("last round: %d dead letters, %d replayed, err %v", last.DeadLetters, last.Replayed, err)
		}
		for _, l := range last.Letters {
			if l.Replays != dlq.DefaultMaxReplays || l.Source.Partition != partOf[l.Key] {
				t.Fatalf("last round's letter %+v: want %d replays, source partition %d", l, dlq.DefaultMaxReplays, partOf[l.Key])
			}
		}
		res, err := dlq.Replay(ctx, cl, opts(c), dlqTopic, dlq.ReplayConfig{Since: since, MaxReplays: dlq.DefaultMaxReplays, Execute: true})
		if err != nil || res.Replayed != 0 || res.Selected != 0 || res.Capped != n || len(res.Skipped) != n {
			t.Fatalf("over the cap: %+v, err %v", res, err)
		}
		if got := records(t, kafkatest.Admin(t, c.Brokers), topic); got != n*(dlq.DefaultMaxReplays+1) {
			t.Fatalf("the source holds %d records after a capped replay, want %d", got, n*(dlq.DefaultMaxReplays+1))
		}
		// The cap is a setting: one more allowed selects them again.
		res, err = dlq.Replay(ctx, cl, opts(c), dlqTopic, dlq.ReplayConfig{Since: since, MaxReplays: dlq.DefaultMaxReplays + 1})
		if err != nil || res.Selected != n || res.Capped != 0 {
			t.Fatalf("dry run with a higher cap: %+v, err %v", res, err)
		}
	})
}

// TestDeadLetterBytesSurvive sends binary values, null and empty keys,
// a null value and large, repeated and empty headers through the engine's
// dead-letter topic and a replay: what arrives is what was produced, byte
// for byte, with the replay's two headers appended.
func TestDeadLetterBytesSurvive(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		topic, dlqTopic, out := kafkatest.Name(t, "in"), kafkatest.Name(t, "dlq"), kafkatest.Name(t, "replayed")
		kafkatest.CreateTopic(t, c.Brokers, topic, 1)
		kafkatest.CreateTopic(t, c.Brokers, dlqTopic, 1)
		kafkatest.CreateTopic(t, c.Brokers, out, 1)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(1, 2))
		random := func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.UintN(256))
			}
			return b
		}
		every := make([]byte, 256)
		for i := range every {
			every[i] = byte(i)
		}
		big := random(300 << 10)
		many := make([]kgo.RecordHeader, 0, 40)
		for i := range 40 {
			many = append(many, kgo.RecordHeader{Key: "h" + strconv.Itoa(i%5), Value: random(i)}) // repeated keys, one empty value
		}
		orig := []*kgo.Record{
			{Key: nil, Value: every},
			{Key: []byte{}, Value: random(4096)},
			{Key: []byte{0, 0xff, 0, '\n'}, Value: nil},
			{Key: []byte("k"), Value: []byte{}, Headers: []kgo.RecordHeader{{Key: "big", Value: big}, {Key: "", Value: []byte{0}}}},
			{Key: random(100), Value: []byte("\x00\xc3\x28 not utf-8"), Headers: many},
		}
		cl := kafkatest.Client(t, c.Brokers)
		for _, r := range orig {
			r.Topic = topic
		}
		if err := cl.ProduceSync(ctx, orig...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		runProcessor(t, c, topic, dlqTopic, handler.NewSimulate(handler.SimulateConfig{FailureRate: 1}))
		waitRecords(t, c, dlqTopic, int64(len(orig)))

		// The dead letters hold the records as they were.
		for _, r := range readAll(t, c, dlqTopic) {
			l, err := dlq.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			if l.Source.Offset < 0 || int(l.Source.Offset) >= len(orig) {
				t.Fatalf("dead letter names source offset %d", l.Source.Offset)
			}
			same(t, "dead letter", orig[l.Source.Offset], l.Key, l.Value, l.Headers)
		}
		s, err := dlq.Inspect(ctx, client(t, c), opts(c), dlqTopic, dlq.InspectConfig{})
		if err != nil || s.DeadLetters != len(orig) {
			t.Fatalf("inspect: %+v, err %v", s, err)
		}

		res, err := dlq.Replay(ctx, client(t, c), opts(c), dlqTopic, dlq.ReplayConfig{To: out, MaxReplays: 1, Execute: true})
		if err != nil || res.Replayed != len(orig) {
			t.Fatalf("replay: %+v, err %v", res, err)
		}
		got := readAll(t, c, out)
		if len(got) != len(orig) {
			t.Fatalf("replayed %d records, want %d", len(got), len(orig))
		}
		for _, r := range got {
			hs := r.Headers
			if len(hs) < 2 || hs[len(hs)-2].Key != dlq.HeaderReplayCount || hs[len(hs)-1].Key != dlq.HeaderReplayOf {
				t.Fatalf("replayed record's headers do not end with the replay's: %v", hs)
			}
			of := string(hs[len(hs)-1].Value) // dlqTopic/partition/offset of its dead letter
			var src *kgo.Record
			for _, d := range readAll(t, c, dlqTopic) {
				if of == dlqTopic+"/"+strconv.Itoa(int(d.Partition))+"/"+strconv.FormatInt(d.Offset, 10) {
					l, _ := dlq.Parse(d)
					src = orig[l.Source.Offset]
				}
			}
			if src == nil {
				t.Fatalf("%s %q names no dead letter", dlq.HeaderReplayOf, of)
			}
			same(t, "replayed record", src, r.Key, r.Value, hs[:len(hs)-2])
		}
	})
}

// same fails t unless key, value and headers are want's, byte for byte,
// null and empty told apart.
func same(t *testing.T, what string, want *kgo.Record, key, value []byte, headers []kgo.RecordHeader) {
	t.Helper()
	eq := func(a, b []byte) bool { return bytes.Equal(a, b) && (a == nil) == (b == nil) }
	if !eq(want.Key, key) || !eq(want.Value, value) {
		t.Fatalf("%s: key %q value %d bytes (nil %v), want key %q value %d bytes (nil %v)", what, key, len(value), value == nil, want.Key, len(want.Value), want.Value == nil)
	}
	if len(headers) != len(want.Headers) {
		t.Fatalf("%s: %d headers, want %d", what, len(headers), len(want.Headers))
	}
	for i, h := range headers {
		if h.Key != want.Headers[i].Key || !bytes.Equal(h.Value, want.Headers[i].Value) {
			t.Fatalf("%s: header %d is %q (%d bytes), want %q (%d bytes)", what, i, h.Key, len(h.Value), want.Headers[i].Key, len(want.Headers[i].Value))
		}
	}
}

// TestBadInput: a topic that does not exist, and one that holds records
// but no dead letters, are refused with errors that say so.
func TestBadInput(t *testing.T) {
	kafkatest.Run(t, func(t *testing.T, c kafkatest.Cluster) {
		ctx := context.Background()
		cl := client(t, c)
		missing := kafkatest.Name(t, "missing")
		if _, err := dlq.Inspect(ctx, cl, opts(c), missing, dlq.InspectConfig{}); !errors.Is(err, dlq.ErrNoTopic) {
			t.Fatalf("inspect of a missing topic: %v", err)
		}
		plain := kafkatest.Name(t, "plain")
		kafkatest.CreateTopic(t, c.Brokers, plain, 1)
		produceEvents(t, c, plain, 3, 3)
		if _, err := dlq.Inspect(ctx, cl, opts(c), plain, dlq.InspectConfig{}); !errors.Is(err, dlq.ErrNoDeadLetters) {
			t.Fatalf("inspect of a topic without dead letters: %v", err)
		}
		if _, err := dlq.Replay(ctx, cl, opts(c), plain, dlq.ReplayConfig{MaxReplays: 1}); !errors.Is(err, dlq.ErrNoDeadLetters) {
			t.Fatalf("replay of a topic without dead letters: %v", err)
		}
		if _, err := dlq.Replay(ctx, cl, opts(c), missing, dlq.ReplayConfig{MaxReplays: 1}); !errors.Is(err, dlq.ErrNoTopic) {
			t.Fatalf("replay of a missing topic: %v", err)
		}
		// An empty dead-letter topic is fine: nothing to do.
		empty := kafkatest.Name(t, "empty")
		kafkatest.CreateTopic(t, c.Brokers, empty, 1)
		if s, err := dlq.Inspect(ctx, cl, opts(c), empty, dlq.InspectConfig{}); err != nil || s.DeadLetters != 0 {
			t.Fatalf("inspect of an empty topic: %+v, %v", s, err)
		}
	})
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
