package processor

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestFetchErrorsLoggedOnceAndBackedOff: a fetch error repeated on every
// poll is logged once (then once per streakRepeatLog with its count), the
// poll loop backs off up to fetchBackoffMax, and records end the streak
// with one line that counts it.
func TestFetchErrorsLoggedOnceAndBackedOff(t *testing.T) {
	var logs bytes.Buffer
	f := newFetchErrors(slog.New(slog.NewTextHandler(&logs, nil)), "in", time.Hour)
	now := time.Unix(1000, 0)
	boom := errors.New("boom")
	var wait time.Duration
	for range 1000 {
		var err error
		wait, err = f.observe(now, []partError{{topicPart{"in", 3}, boom}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(50 * time.Millisecond) // 50 s in all
	}
	if wait != fetchBackoffMax {
		t.Fatalf("backoff %s after 1000 failing polls, want %s", wait, fetchBackoffMax)
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Fatalf("%d log lines for 1000 identical errors over 50s, want 2 (first, one repeat):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "times=") {
		t.Fatalf("the repeat line does not count: %s", logs.String())
	}
	wait, err := f.observe(now, nil, map[topicPart]bool{{"in", 3}: true})
	if err != nil || wait != 0 {
		t.Fatalf("records: wait %s, err %v; want 0, nil", wait, err)
	}
	if !strings.Contains(logs.String(), "fetching recovered") || !strings.Contains(logs.String(), "times=1000") {
		t.Fatalf("no recovery line with the count: %s", logs.String())
	}
	if f.active() {
		t.Fatal("still active after recovery")
	}
}

// TestFetchErrorsTopicGone: unknown-topic errors on every poll for longer
// than the bound end Run with ErrTopicGone; a gap longer than fetchErrQuiet
// or records in between start the count again.
func TestFetchErrorsTopicGone(t *testing.T) {
	for _, unknown := range []error{kerr.UnknownTopicID, kerr.UnknownTopicOrPartition,
		fmt.Errorf("wrapped: %w", kerr.UnknownTopicID)} {
		f := newFetchErrors(slog.New(slog.DiscardHandler), "in", 5*time.Second)
		now := time.Unix(1000, 0)
		step := func(d time.Duration, recs map[topicPart]bool) error {
			now = now.Add(d)
			_, err := f.observe(now, []partError{{topicPart{"in", 0}, unknown}}, recs)
			return err
		}
		for range 4 {
			if err := step(time.Second, nil); err != nil {
				t.Fatalf("%v: gone after %s", unknown, 4*time.Second)
			}
		}
		if err := step(0, map[topicPart]bool{{"in", 1}: true}); err != nil { // another partition still reads
			t.Fatal(err)
		}
		for range 4 {
			if err := step(time.Second, nil); err != nil {
				t.Fatalf("%v: records did not restart the count", unknown)
			}
		}
		if err := step(fetchErrQuiet+time.Second, nil); err != nil {
			t.Fatalf("%v: a quiet gap did not restart the count", unknown)
		}
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			err = step(time.Second, nil)
		}
		if !errors.Is(err, ErrTopicGone) || !strings.Contains(err.Error(), "topic in ") || !strings.Contains(err.Error(), "restart") {
			t.Fatalf("%v: got %v, want ErrTopicGone naming the topic and what to do", unknown, err)
		}
	}
	// Other errors never make the topic gone.
	f := newFetchErrors(slog.New(slog.DiscardHandler), "in", time.Second)
	now := time.Unix(1000, 0)
	for range 100 {
		now = now.Add(time.Second)
		if _, err := f.observe(now, []partError{{topicPart{"in", 0}, kerr.NotLeaderForPartition}}, nil); err != nil {
			t.Fatal(err)
		}
	}
}
