package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Readiness and liveness answer two different questions, and a Kubernetes
// probe acts on each differently (docs/health.md):
//
//   - Ready (/readyz): may this member be counted as doing its job? It has
//     received its first assignment, holds a group session now (a session
//     the coordinator ended clears it until the member rejoins), a broker
//     of the cluster has answered recently, and the input topic is
//     readable. A broker outage makes every member unready — which removes
//     nothing that works and says what is wrong.
//   - Live (/healthz): is the engine wedged, so that only a restart helps?
//     The poll loop, or a lane with work, has made no progress for longer
//     than processor.group.rebalance_timeout. Waiting on the cluster is not
//     wedged: while no broker answers, liveness holds, and the clock starts
//     again when the cluster answers — a liveness probe that followed the
//     broker would restart every pod at once during an outage, and each
//     restart is a rebalance the group then pays for.

// health is the processor's view of its session, the cluster's reachability
// and its poll loop, fed by franz-go's hooks, the group callbacks and the
// poll loop. Lanes keep their own progress (lane.stuck). It is safe for
// concurrent use.
type health struct {
	log        *slog.Logger
	group      string
	reachAfter time.Duration // no answer for this long, with a failure since, is unreachable
	wedgeAfter time.Duration // no progress with work for this long is wedged

	// okAt and failAt are the unix nanoseconds of the latest broker answer
	// and of the latest failure to get one (a refused dial, a broken
	// connection); the hot path reads and writes only these.
	okAt, failAt atomic.Int64
	// failing counts brokers with a dial-failure streak, so an answer
	// takes the lock only when a recovery may need logging.
	failing atomic.Int32

	mu        sync.Mutex
	joined    bool      // a group session is held: assigned since the last loss
	lostAt    time.Time // when the last session was lost
	lostWhy   string    // what ended it, as franz-go reported
	lastErr   string    // the latest connection failure
	backAt    time.Time // when the cluster answered again after being unreachable
	pollSince time.Time // the poll loop has been working on a poll since; zero while it waits on purpose
	stopped   bool      // Run has returned
	// unreadable is the input topic's unknown-topic streak (fetcherr.go):
	// its start, latest error and text; zero since when there is none.
	unreadSince, unreadLast time.Time
	unreadErr               string
	dials                   map[string]*streak // dial-failure streaks by broker address
	dialErr                 map[string]string  // each streak's latest error
	wedged                  string             // the last wedge reason Live reported, to log changes once
}

var (
	_ kgo.HookBrokerConnect    = (*health)(nil)
	_ kgo.HookBrokerE2E        = (*health)(nil)
	_ kgo.HookGroupManageError = (*health)(nil)
)

func newHealth(log *slog.Logger, cfg Config) *health {
	return &health{
		log: log, group: cfg.Group.ID,
		// The member heartbeats every heartbeat_interval, so a reachable
		// coordinator answers at least that often.
		reachAfter: max(2*cfg.Group.HeartbeatInterval, 2*time.Second),
		wedgeAfter: cfg.Group.RebalanceTimeout,
		dials:      map[string]*streak{},
		dialErr:    map[string]string{},
	}
}

// OnBrokerConnect implements kgo.HookBrokerConnect: a failed dial is a
// failure to reach the cluster, logged once per broker and streak with a
// count (streak.go); the next successful dial to that broker logs the
// recovery.
func (h *health) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	addr := net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
	now := time.Now()
	if err == nil {
		if h.failing.Load() == 0 {
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if s := h.dials[addr]; s != nil {
			h.log.Info("connected to the broker again", "broker", addr, "failed_attempts", s.n, "for", now.Sub(s.first).Round(time.Millisecond), "last_err", h.dialErr[addr])
			delete(h.dials, addr)
			delete(h.dialErr, addr)
			h.failing.Add(-1)
		}
		return
	}
	if ignorable(err) {
		return
	}
	h.failAt.Store(now.UnixNano())
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	h.lastErr = err.Error()
	s := h.dials[addr]
	if s == nil {
		s = &streak{}
		h.dials[addr] = s
		h.failing.Add(1)
	}
	h.dialErr[addr] = err.Error()
	switch {
	case !s.hit(now):
	case s.n == 1:
		h.log.Warn("cannot connect to a broker; retrying, repeats are counted, not logged, until it answers", "broker", addr, "err", err)
	default:
		h.log.Warn("still cannot connect to a broker", "broker", addr, "err", err, "failed_attempts", s.n, "since", s.took())
	}
}

// OnBrokerE2E implements kgo.HookBrokerE2E: every response read is an
// answer from the cluster (whatever its error codes say), and a request
// whose connection broke is a failure.
func (h *health) OnBrokerE2E(_ kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	now := time.Now()
	err := e2e.Err()
	if err == nil {
		prev := h.okAt.Swap(now.UnixNano())
		if fail := h.failAt.Load(); fail > prev && now.Sub(time.Unix(0, prev)) > h.reachAfter {
			h.mu.Lock()
			h.backAt = now
			h.mu.Unlock()
		}
		return
	}
	if ignorable(err) {
		return
	}
	h.failAt.Store(now.UnixNano())
	h.mu.Lock()
	h.lastErr = err.Error()
	h.mu.Unlock()
}

// OnGroupManageError implements kgo.HookGroupManageError: franz-go calls it
// right after the lost callback with the error that ended the session.
func (h *health) OnGroupManageError(err error) {
	h.mu.Lock()
	h.lostWhy = err.Error()
	h.mu.Unlock()
}

// ignorable reports whether err is the client's own doing (a cancelled
// request, the client closing), not the cluster's.
func ignorable(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed)
}

// join records that a group session is held (the assigned callback).
func (h *health) join() {
	h.mu.Lock()
	h.joined = true
	h.mu.Unlock()
}

// lose records that the group session ended without a clean revoke (the
// lost callback): another member may own the partitions now.
func (h *health) lose(now time.Time) {
	h.mu.Lock()
	h.joined, h.lostAt, h.lostWhy = false, now, ""
	h.mu.Unlock()
}

// stop records that Run has returned.
func (h *health) stop() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
}

// polling records that the poll loop is waiting on purpose: in PollFetches
// for records, or in a fetch-error backoff.
func (h *health) polling() {
	h.mu.Lock()
	h.pollSince = time.Time{}
	h.mu.Unlock()
}

// working records that the poll loop has a poll to handle, from now.
func (h *health) working(now time.Time) {
	h.mu.Lock()
	h.pollSince = now
	h.mu.Unlock()
}

// awaiting records that the poll loop waits on work bounded by its own
// timeout, until deadline at most (a transaction's end: handler calls and
// the transaction coordinator, transact.go). Waiting within its bound is
// not being wedged — a coordinator moving during a broker outage made
// every exactly_once member fail /healthz at once — so the wedge clock
// starts at deadline: a wait that outlives its own bound still counts.
func (h *health) awaiting(deadline time.Time) { h.working(deadline) }

// setUnreadable records the input topic's unknown-topic streak, as the
// poll loop's fetchErrors knows it; a zero since clears it.
func (h *health) setUnreadable(since, last time.Time, err string) {
	h.mu.Lock()
	h.unreadSince, h.unreadLast, h.unreadErr = since, last, err
	h.mu.Unlock()
}

// unreachable reports since when no broker has answered, when none has for
// longer than reachAfter with a failure since the last answer.
func (h *health) unreachable(now time.Time) (time.Time, bool) {
	ok, fail := h.okAt.Load(), h.failAt.Load()
	last := time.Unix(0, ok)
	return last, fail > ok && now.Sub(last) > h.reachAfter
}

// readiness is Readiness past the first assignment.
func (h *health) readiness(now time.Time) error {
	last, down := h.unreachable(now)
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.stopped:
		return errors.New("the processor has stopped")
	case down:
		return fmt.Errorf("no broker of the cluster has answered for %s (last error: %s)", now.Sub(last).Round(100*time.Millisecond), h.lastErr)
	case !h.joined:
		why := h.lostWhy
		if why == "" {
			why = "no clean revoke"
		}
		return fmt.Errorf("the session in group %s was lost %s ago (%s); rejoining", h.group, now.Sub(h.lostAt).Round(100*time.Millisecond), why)
	case !h.unreadSince.IsZero() && now.Sub(h.unreadLast) <= fetchErrQuiet:
		return fmt.Errorf("the input topic has been unreadable for %s: %s", now.Sub(h.unreadSince).Round(100*time.Millisecond), h.unreadErr)
	}
	return nil
}

// clock returns the time the wedge clock may start from at the earliest,
// and false while the cluster is unreachable: waiting on the cluster is
// not being wedged, so liveness makes no judgement then and counts again
// from the moment the cluster answers.
func (h *health) clock(now time.Time) (time.Time, bool) {
	if _, down := h.unreachable(now); down {
		return time.Time{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return time.Time{}, false
	}
	return h.backAt, true
}

// pollStuck returns how long the poll loop has worked on one poll, counted
// from no earlier than from.
func (h *health) pollStuck(now, from time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pollSince.IsZero() {
		return 0
	}
	return now.Sub(later(h.pollSince, from))
}

// report logs a change of the wedge reason once: when the engine is found
// wedged, and when it moves again.
func (h *health) report(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if reason == h.wedged {
		return
	}
	switch {
	case reason != "":
		h.log.Error("the engine is wedged; /healthz fails until it moves again", "reason", reason)
	default:
		h.log.Info("the engine moves again; /healthz succeeds", "was", h.wedged)
	}
	h.wedged = reason
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Ready reports whether the processor is ready (Readiness returns nil).
func (p *Processor) Ready() bool { return p.Readiness() == nil }

// Readiness returns nil while this member is doing its job as far as the
// group and the cluster go, else an error saying why not, in one line:
// before its first assignment; after its group session was lost, until it
// rejoins; while no broker of the cluster has answered for a few heartbeat
// intervals (a broker outage); while the input topic is unreadable
// (deleted or recreated: Run then ends with ErrTopicGone); and after Run
// returned. A member legitimately idle — assigned no partition because the
// group has more members than the topic partitions — is ready. It is what
// /readyz answers, and safe to call at any time from any goroutine.
func (p *Processor) Readiness() error {
	if !p.ready.Load() {
		return fmt.Errorf("not yet joined group %s (no assignment received)", p.cfg.Group.ID)
	}
	return p.health.readiness(time.Now())
}

// Live returns nil unless the engine is wedged: the poll loop has worked on
// one poll, or an owned partition with work (records queued or a handler
// call running) has made no progress, for longer than
// processor.group.rebalance_timeout. The error names the partition and
// what it waits on, in one line. Waiting on the cluster never counts: while
// no broker answers Live returns nil, and the clock starts again once one
// does, so a broker outage restarts no pod. A handler call past
// handler.timeout counts only once over the same bound. It is what /healthz
// answers, and safe to call at any time from any goroutine; a change of its
// answer is logged once.
func (p *Processor) Live() error {
	now := time.Now()
	reason := p.wedged(now)
	p.health.report(reason)
	if reason == "" {
		return nil
	}
	return errors.New(reason)
}

// wedged returns why the engine is wedged at now, or "".
func (p *Processor) wedged(now time.Time) string {
	h := p.health
	from, judge := h.clock(now)
	if !judge {
		return ""
	}
	bound := h.wedgeAfter
	if d := h.pollStuck(now, from); d > bound {
		return fmt.Sprintf("wedged: the poll loop has handled one poll for %s, longer than processor.group.rebalance_timeout (%s)",
			d.Round(100*time.Millisecond), bound)
	}
	var (
		worst     time.Duration
		what      string
		part      any
		more      int
		wedgedAny bool
	)
	p.mu.Lock()
	lanes := make([]*lane, 0, len(p.lanes))
	for _, l := range p.lanes {
		lanes = append(lanes, l)
	}
	p.mu.Unlock()
	for _, l := range lanes {
		d, w := l.stuck(now, from)
		if d <= bound {
			continue
		}
		if wedgedAny {
			more++
		}
		wedgedAny = true
		if d > worst {
			worst, what, part = d, w, l.label()
		}
	}
	if !wedgedAny {
		return ""
	}
	s := fmt.Sprintf("wedged: partition %v has made no progress for %s, longer than processor.group.rebalance_timeout (%s): %s",
		part, worst.Round(100*time.Millisecond), bound, what)
	if more > 0 {
		s += fmt.Sprintf(" (and %d more partitions)", more)
	}
	return s
}
