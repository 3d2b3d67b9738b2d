package processor

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestHealthModel walks the readiness and liveness decisions through
// synthetic times: what makes a member unready, and when a lane counts as
// wedged — never while the cluster is unreachable, and only past the
// rebalance timeout counted from the cluster's return.
func TestHealthModel(t *testing.T) {
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	cfg := DefaultConfig()
	cfg.Group.ID = "g"
	newP := func() *Processor {
		p := newProcessor(kafkaConfigForTest(), "in", cfg, HandlerFunc(func(context.Context, *Batch) error { return nil }), Options{Logger: slog.New(slog.DiscardHandler)})
		p.ready.set()
		p.health.join()
		p.health.okAt.Store(t0.UnixNano())
		return p
	}
	reach := newP().health.reachAfter

	for _, tc := range []struct {
		name  string
		setup func(p *Processor)
		now   time.Duration
		want  string // "" for ready
	}{
		{"answered just now", nil, 0, ""},
		{"quiet without failures (a long JoinGroup)", nil, time.Hour, ""},
		{"a failure within the bound", func(p *Processor) { p.health.failAt.Store(at(time.Second).UnixNano()) }, reach, ""},
		{"a failure and no answer past the bound", func(p *Processor) { p.health.failAt.Store(at(time.Second).UnixNano()) },
			reach + time.Second, "no broker of the cluster has answered"},
		{"session lost", func(p *Processor) { p.health.lose(t0) }, time.Second, "was lost"},
		{"topic unreadable", func(p *Processor) { p.health.setUnreadable(t0, t0, "UNKNOWN_TOPIC_ID") }, time.Second, "unreadable"},
		{"unreadable streak gone quiet", func(p *Processor) { p.health.setUnreadable(t0, t0, "UNKNOWN_TOPIC_ID") },
			fetchErrQuiet + time.Second, ""},
		{"stopped", func(p *Processor) { p.health.stop() }, 0, "stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newP()
			if tc.setup != nil {
				tc.setup(p)
			}
			err := p.health.readiness(at(tc.now))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("not ready: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("readiness %v, want %q", err, tc.want)
			}
		})
	}

	bound := cfg.Group.RebalanceTimeout
	for _, tc := range []struct {
		name  string
		setup func(p *Processor, l *lane)
		now   time.Duration
		want  string // "" for live
	}{
		{"idle lane", nil, time.Hour, ""},
		{"a call within the bound", func(_ *Processor, l *lane) { l.progress.call = t0 }, bound, ""},
		{"a call past the bound", func(_ *Processor, l *lane) { l.progress.call = t0 }, bound + time.Millisecond,
			"partition 3 has made no progress"},
		{"queued work never taken", func(_ *Processor, l *lane) { l.queue = []*kgo.Record{{}} }, bound + time.Second,
			"1 records queued and none taken"},
		{"waiting on purpose", func(_ *Processor, l *lane) { l.queue, l.progress.waiting = []*kgo.Record{{}}, true }, time.Hour, ""},
		{"halted", func(_ *Processor, l *lane) { l.queue, l.halted = []*kgo.Record{{}}, true }, time.Hour, ""},
		{"stopped with its queue left to the next owner", func(_ *Processor, l *lane) { l.queue = []*kgo.Record{{}}; l.stop() }, time.Hour, ""},
		{"stopped with a call running past the bound", func(_ *Processor, l *lane) { l.queue, l.progress.call = []*kgo.Record{{}}, t0; l.stop() },
			bound + time.Second, "a handler call has been running"},
		{"cluster unreachable", func(p *Processor, l *lane) {
			l.progress.call = t0
			p.health.failAt.Store(at(time.Second).UnixNano())
		}, time.Hour, ""},
		{"clock restarts when the cluster answers again", func(p *Processor, l *lane) {
			l.progress.call = t0
			p.health.backAt = at(time.Hour)
			p.health.okAt.Store(at(time.Hour).UnixNano())
		}, time.Hour + bound, ""},
		{"and runs out past the bound", func(p *Processor, l *lane) {
			l.progress.call = t0
			p.health.backAt = at(time.Hour)
			p.health.okAt.Store(at(time.Hour + bound).UnixNano())
		}, time.Hour + bound + time.Second, "partition 3"},
		{"the poll loop busy past the bound", func(p *Processor, _ *lane) { p.health.working(t0) }, bound + time.Second, "the poll loop"},
		{"the poll loop ending a transaction within its bound", func(p *Processor, _ *lane) { p.health.awaiting(at(time.Minute)) }, time.Minute + bound, ""},
		{"and past it", func(p *Processor, _ *lane) { p.health.awaiting(at(time.Minute)) }, time.Minute + bound + time.Second, "the poll loop"},
		{"the poll loop waiting in PollFetches", func(p *Processor, _ *lane) { p.health.working(t0); p.health.polling() }, time.Hour, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newP()
			l := newLane(p, p.topic, 3)
			l.progress.at = t0
			p.lanes[l.key()] = l
			if tc.setup != nil {
				tc.setup(p, l)
			}
			got := p.wedged(at(tc.now))
			switch {
			case tc.want == "" && got != "":
				t.Fatalf("wedged: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Fatalf("wedged %q, want %q", got, tc.want)
			}
		})
	}
}
