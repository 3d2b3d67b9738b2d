package main

import (
	"strings"
	"testing"
	"time"
)

// TestExactlyOnceRefusals: processor.guarantee=exactly_once where it
// cannot hold is a configuration mistake, exit 2 naming the key and the
// reason, from config validate and from process before it connects; with
// forward and the default producer settings it is accepted.
func TestExactlyOnceRefusals(t *testing.T) {
	eos := []string{"--processor.guarantee", "exactly_once"}
	fwd := []string{"--handler", "forward", "--output-topic", "out"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"log handler", cat(eos, []string{"--handler", "log"}), []string{"processor.guarantee", "cannot take back the log handler"}},
		{"noop handler", cat(eos, []string{"--handler", "noop"}), []string{"processor.guarantee", "noop writes nothing"}},
		{"simulate without forward", cat(eos, []string{"--handler", "simulate"}), []string{"processor.guarantee", "handler.simulate.forward"}},
		{"acks leader, not idempotent", cat(eos, fwd, []string{"--producer.acks", "leader", "--producer.idempotent=false"}),
			[]string{"producer.acks", "requires acks=all", "producer.idempotent", "requires idempotent writes"}},
		{"manual commits", cat(eos, fwd, []string{"--processor.commit.mode", "manual"}), []string{"processor.commit.mode", "manual contradicts it"}},
		{"interval not below the timeout", cat(eos, fwd, []string{"--processor.transaction.interval", "30s", "--processor.transaction.timeout", "30s"}),
			[]string{"processor.transaction.interval", "must be below processor.transaction.timeout"}},
		{"key ordering", cat(eos, fwd, []string{"--processor.ordering", "key"}), []string{"processor.ordering", "partition only"}},
		{"several topics", cat(eos, fwd, []string{"--topic.name", "", "--topic.names", "a,b"}), []string{"topic.names", "one input topic"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range [][]string{{"config", "validate"}, {"process", "--brokers", "127.0.0.1:1", "--metrics-addr", ""}} {
				r := veltrix(t, 30*time.Second, "", append(cmd, tc.args...)...)
				if r.code != 2 {
					t.Errorf("%s: exit %d, want 2: %s", cmd[0], r.code, r.stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", cmd[0], w, r.stderr)
					}
				}
			}
		})
	}
	for _, ok := range [][]string{cat(eos, fwd), cat(eos, []string{"--handler", "simulate", "--handler.simulate.forward", "--output-topic", "out"})} {
		if r := veltrix(t, 30*time.Second, "", append([]string{"config", "validate"}, ok...)...); r.code != 0 {
			t.Errorf("config validate %s: exit %d, want 0: %s", strings.Join(ok, " "), r.code, r.stderr)
		}
	}
}
