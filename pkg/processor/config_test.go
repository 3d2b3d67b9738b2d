package processor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
)

// TestNewValidates: a Go user who builds a Config by hand gets every
// problem from New, in Go's names, before anything connects.
func TestNewValidates(t *testing.T) {
	noop := processor.HandlerFunc(func(context.Context, *processor.Batch) error { return nil })
	kc := kafka.Config{Brokers: []string{"127.0.0.1:1"}, ConnectTimeout: time.Second}
	if _, err := processor.New(kc, "in", processor.DefaultConfig(), noop, processor.Options{}); err != nil {
		t.Fatalf("the defaults: %v", err)
	}

	dlqIntoInput := processor.DefaultConfig()
	dlqIntoInput.OnFailure, dlqIntoInput.DLQTopic = processor.OnFailureDLQ, "in"
	tight := processor.DefaultConfig()
	tight.Group.HeartbeatInterval = tight.Group.SessionTimeout
	tight.Retry.InitialBackoff = 2 * tight.Retry.MaxBackoff
	tight.Batch.MaxBytes = 2 * tight.Buffer.MaxBytes
	for _, tc := range []struct {
		name  string
		topic string
		cfg   processor.Config
		h     processor.Handler
		want  []string
	}{
		{"zero config", "in", processor.Config{}, noop, []string{
			"Group.ID is empty", "Group.SessionTimeout 0s: want at least 1s", `Group.Balancer ""`,
			`StartOffset ""`, "Batch.MaxRecords 0: want at least 1", `Commit.Mode ""`,
			"Buffer.MaxBytes 0", "Retry.MaxAttempts 0", `OnFailure ""`}},
		{"contradictions", "in", tight, noop, []string{
			"Group.HeartbeatInterval 45s: must be below Group.SessionTimeout",
			"Retry.InitialBackoff 10s: must not exceed Retry.MaxBackoff",
			"Batch.MaxBytes 134217728: must not exceed Buffer.MaxBytes"}},
		{"unknown words", "in", func() processor.Config {
			c := processor.DefaultConfig()
			c.Commit.Mode, c.OnFailure, c.IsolationLevel = "sometimes", "retry", "dirty"
			return c
		}(), noop, []string{`Commit.Mode "sometimes"`, `OnFailure "retry"`, `IsolationLevel "dirty"`}},
		{"negative handler timeout", "in", func() processor.Config {
			c := processor.DefaultConfig()
			c.HandlerTimeout = -time.Second
			return c
		}(), noop, []string{"HandlerTimeout -1s: want at least 0s"}},
		{"no topic", "", processor.DefaultConfig(), noop, []string{"the topic is empty"}},
		{"no handler", "in", processor.DefaultConfig(), nil, []string{"the handler is nil"}},
		{"dead letters into the input", "in", dlqIntoInput, noop, []string{`DLQTopic "in": must differ from the input topic`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := processor.New(kc, tc.topic, tc.cfg, tc.h, processor.Options{})
			if err == nil || p != nil {
				t.Fatalf("New = %v, %v; want an error", p, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestModesText: the typed modes read and write the words the
// configuration uses and refuse every other.
func TestModesText(t *testing.T) {
	var m processor.CommitMode
	var f processor.OnFailure
	var l processor.IsolationLevel
	for _, tc := range []struct {
		dst interface {
			UnmarshalText([]byte) error
		}
		words []string
		want  string // the error for a bad word
	}{
		{&m, []string{"batch", "interval", "manual"}, "want one of batch, interval, manual"},
		{&f, []string{"halt", "skip", "dlq"}, "want one of halt, skip, dlq"},
		{&l, []string{"read_committed", "read_uncommitted", ""}, "want one of read_committed, read_uncommitted"},
	} {
		for _, w := range tc.words {
			if err := tc.dst.UnmarshalText([]byte(w)); err != nil {
				t.Errorf("%T %q: %v", tc.dst, w, err)
			}
			got, _ := tc.dst.(interface{ MarshalText() ([]byte, error) }).MarshalText()
			if string(got) != w {
				t.Errorf("%T: %q came back as %q", tc.dst, w, got)
			}
		}
		if err := tc.dst.UnmarshalText([]byte("Batch")); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T refused a bad word with %v; want %q", tc.dst, err, tc.want)
		}
	}
}
