// Package lag measures how far consumer groups are behind: offset lag, time
// lag and a health status per partition and group, polled with franz-go's
// admin client and exported to Prometheus by a collector that builds its
// series from the latest poll at scrape time.
//
// Offset lag is the last stable offset minus the committed offset (never
// negative), or 0 when only transaction markers or aborted records lie
// between them; time lag is now minus the timestamp of the first data
// record at or after the committed offset, read once per committed offset.
// Both keep reporting for groups with no members: the lag of a stopped
// group is the number that matters most.
package lag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/veltrix/veltrix/pkg/processor"
)

// minPollTimeout bounds one poll when the interval is shorter.
const minPollTimeout = 10 * time.Second

// Options are the monitor's dependencies.
type Options struct {
	// Groups are always watched, whether or not Config.Groups matches
	// them, and reported even before they exist (state Dead).
	Groups []string
	// Registerer, when not nil, gets the monitor's collector.
	Registerer prometheus.Registerer
	// Logger receives poll failures; nil discards them.
	Logger *slog.Logger
	// Topics, when not nil, keeps only the topics it accepts: a group's
	// partitions of other topics are not reported, and its totals and
	// status count only these. nil reports every topic a group commits to,
	// is assigned, or subscribes to.
	Topics func(topic string) bool
}

// Monitor polls consumer groups on an interval and keeps the latest
// Snapshot. Poll and Run must not be called concurrently; Latest is safe
// from any goroutine.
type Monitor struct {
	cl     *kgo.Client
	adm    *kadm.Client
	cfg    Config
	opts   Options
	match  *regexp.Regexp // nil: only opts.Groups
	hist   *history
	stamps *stamps
	latest atomic.Pointer[Snapshot]
	// lastPoll holds the newest finished poll's pollResult (probes.go).
	lastPoll atomic.Value
	now      func() time.Time
}

// New builds a monitor that reads through cl, which the caller owns and
// closes after Run returns. It registers the monitor's collector on
// opts.Registerer and starts nothing. It fails on a Config that Validate
// rejects.
func New(cl *kgo.Client, cfg Config, opts Options) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Monitor{cl: cl, adm: kadm.NewClient(cl), cfg: cfg, opts: opts,
		hist: newHistory(Rules{Window: cfg.Window, WarnTimeLag: cfg.WarnTimeLag}), stamps: newStamps(cl), now: time.Now}
	if cfg.Groups != "" {
		m.match = regexp.MustCompile(cfg.Groups) // Validate compiled it
	}
	if m.opts.Logger == nil {
		m.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(NewCollector(m)); err != nil {
			return nil, fmt.Errorf("registering the lag collector: %w", err)
		}
	}
	return m, nil
}

// Latest returns the newest snapshot, or nil before the first poll ends.
func (m *Monitor) Latest() *Snapshot { return m.latest.Load() }

// Ready reports whether a poll has completed. Fresh also says whether the
// newest one is recent.
func (m *Monitor) Ready() bool { return m.latest.Load() != nil }

// Run polls at once and then every Config.Interval until ctx is cancelled,
// and returns nil then. A failed poll is logged and the previous snapshot
// stays published until a poll succeeds.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := m.Poll(ctx); err != nil && ctx.Err() == nil {
			m.opts.Logger.Warn("lag poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll reads every watched group once, evaluates health, publishes the
// snapshot and returns it. It fails only when the group list or the topic
// offsets cannot be read; a group whose offsets cannot be read is reported
// with status ERR. A poll takes at most max(interval, 10s).
func (m *Monitor) Poll(ctx context.Context) (*Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, max(m.cfg.Interval, minPollTimeout))
	defer cancel()
	start := m.now()
	snap, err := m.poll(ctx, start)
	if err != nil {
		m.lastPoll.Store(pollResult{at: m.now(), err: err})
		return nil, err
	}
	snap.Took = m.now().Sub(start)
	m.latest.Store(snap)
	m.lastPoll.Store(pollResult{at: m.now()})
	return snap, nil
}

// onceGap is the longest Once waits between its two polls.
const onceGap = 2 * time.Second

// Once is a poll for a one-shot reader (veltrix lag --once): it polls, and
// when a verdict needs a second sample — a group with lag and no members is
// STOP only once a second poll shows that nobody committed meanwhile — it
// polls again after min(interval, 2s) and returns that snapshot. Like Poll,
// it must not run concurrently with Poll or Run.
func (m *Monitor) Once(ctx context.Context) (*Snapshot, error) {
	snap, err := m.Poll(ctx)
	if err != nil || !needsSecond(snap) {
		return snap, err
	}
	t := time.NewTimer(min(m.cfg.Interval, onceGap))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return snap, nil
	case <-t.C:
	}
	return m.Poll(ctx)
}

// needsSecond says some partition of a group without members has lag: its
// status depends on whether its committed offset moves.
func needsSecond(s *Snapshot) bool {
	for _, g := range s.Groups {
		if g.State == "" || len(g.Members) > 0 {
			continue
		}
		for _, p := range g.Partitions {
			if p.Err == "" && p.Lag > 0 {
				return true
			}
		}
	}
	return false
}

func (m *Monitor) poll(ctx context.Context, at time.Time) (*Snapshot, error) {
	names, err := m.groups(ctx)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Cluster: m.cfg.Cluster, At: at}
	if len(names) == 0 {
		m.hist.keep(nil)
		return snap, nil
	}

	// Describe for state and members; a failure leaves them unknown but the
	// lag is still measured from the committed offsets.
	described, err := m.adm.DescribeGroups(ctx, names...)
	if err != nil && !partial(err) {
		m.opts.Logger.Debug("describing groups", "err", err)
	}
	fetched := m.adm.FetchManyOffsets(ctx, names...)

	// Every partition a group has committed to, is assigned, or wants.
	topics := map[string]bool{}
	for _, name := range names {
		if f, ok := fetched[name]; ok && f.Err == nil {
			f.Fetched.Each(func(o kadm.OffsetResponse) { topics[o.Topic] = true })
		}
		if d, ok := described[name]; ok && d.Err == nil {
			for t := range d.AssignedPartitions() {
				topics[t] = true
			}
			for _, t := range d.JoinTopics() {
				topics[t] = true
			}
		}
	}
	if m.opts.Topics != nil {
		maps.DeleteFunc(topics, func(t string, _ bool) bool { return !m.opts.Topics(t) })
	}
	var start, end, hwm kadm.ListedOffsets
	if len(topics) > 0 {
		list := slices.Sorted(maps.Keys(topics))
		if start, err = m.adm.ListStartOffsets(ctx, list...); err != nil && !partial(err) {
			return nil, fmt.Errorf("listing log start offsets: %w", err)
		}
		// The last stable offset: records of open transactions are not yet
		// readable, and markers below it are never counted as lag by a
		// consumer that commits its position.
		if end, err = m.adm.ListCommittedOffsets(ctx, list...); err != nil && !partial(err) {
			return nil, fmt.Errorf("listing last stable offsets: %w", err)
		}
		// The high watermarks, after the last stable offsets so never
		// below them: the records between are those of open
		// transactions (Partition.Unstable); a hung one pins the last
		// stable offset, and read_committed readers wait.
		if hwm, err = m.adm.ListEndOffsets(ctx, list...); err != nil && !partial(err) {
			return nil, fmt.Errorf("listing high watermarks: %w", err)
		}
	}

	var wants []want
	seen := map[partKey]bool{}
	for _, name := range names {
		g := m.group(name, described, fetched, start, end, hwm)
		for i := range g.Partitions {
			p := &g.Partitions[i]
			if p.Err == "" && p.Lag > 0 {
				wants = append(wants, want{key: offKey{p.Topic, p.Partition, max(p.Committed, p.Start)}, end: p.End})
			}
		}
		snap.Groups = append(snap.Groups, g)
	}

	found, err := m.stamps.lookup(ctx, wants)
	if err != nil {
		m.opts.Logger.Warn("reading record times; time lag unknown for some partitions this poll", "err", err)
	}
	for gi := range snap.Groups {
		g := &snap.Groups[gi]
		if g.Err != "" {
			continue
		}
		// Members are known only when the group could be described.
		empty := g.State != "" && len(g.Members) == 0
		for i := range g.Partitions {
			p := &g.Partitions[i]
			if p.Err == "" && p.Lag > 0 {
				st, ok := found[offKey{p.Topic, p.Partition, max(p.Committed, p.Start)}]
				p.TimeLagKnown = ok
				switch {
				case ok && st.pendingBefore(p.End):
					p.RecordTime = st.at
				case ok:
					// Only transaction markers or aborted records lie
					// ahead: a read_committed consumer has nothing to
					// read, so the group is caught up, not one behind.
					p.Lag = 0
				}
			} else if p.Err == "" {
				p.TimeLagKnown = true
			}
			k := partKey{g.Name, p.Topic, p.Partition}
			seen[k] = true
			p.Status = m.hist.add(k, Sample{At: at, Committed: p.Committed, HasCommit: p.HasCommit,
				Lag: p.Lag, TimeLag: p.TimeLag(at), Owned: p.Owner != "", Empty: empty, Err: p.Err != ""})
			g.Status = worst(g.Status, p.Status)
		}
	}
	m.hist.keep(seen)
	return snap, nil
}

// groups lists the watched group ids: those matching Config.Groups plus
// Options.Groups, sorted.
func (m *Monitor) groups(ctx context.Context) ([]string, error) {
	set := map[string]bool{}
	for _, g := range m.opts.Groups {
		set[g] = true
	}
	if m.match != nil {
		listed, err := m.adm.ListGroups(ctx)
		if err != nil && !partial(err) {
			return nil, fmt.Errorf("listing groups: %w", err)
		}
		for name := range listed {
			if m.match.MatchString(name) {
				set[name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// group builds one group's view from the poll's responses.
func (m *Monitor) group(name string, described kadm.DescribedGroups, fetched kadm.FetchOffsetsResponses, start, end, hwm kadm.ListedOffsets) Group {
	g := Group{Name: name}
	owners := map[topicPart]string{}
	wanted := map[topicPart]bool{}
	if d, ok := described[name]; ok && d.Err == nil {
		g.State = d.State
		for _, mem := range d.Members {
			g.Members = append(g.Members, Member{ID: mem.MemberID, ClientID: mem.ClientID, Host: mem.ClientHost})
			if c, ok := mem.Assigned.AsConsumer(); ok {
				for _, t := range c.Topics {
					for _, p := range t.Partitions {
						owners[topicPart{t.Topic, p}] = mem.ClientID
						wanted[topicPart{t.Topic, p}] = true
					}
				}
			}
		}
		for _, t := range d.JoinTopics() {
			for p := range end[t] {
				if p >= 0 {
					wanted[topicPart{t, p}] = true
				}
			}
		}
	}
	f, ok := fetched[name]
	switch {
	case !ok:
		g.Err, g.Status = "offsets not returned", Err
		return g
	case f.Err != nil && !errors.Is(f.Err, kerr.GroupIDNotFound):
		g.Err, g.Status = fmt.Sprintf("fetching committed offsets: %v", f.Err), Err
		return g
	}
	commits := map[topicPart]kadm.OffsetResponse{}
	f.Fetched.Each(func(o kadm.OffsetResponse) {
		tp := topicPart{o.Topic, o.Partition}
		commits[tp] = o
		wanted[tp] = true
	})
	for tp := range wanted {
		if m.opts.Topics != nil && !m.opts.Topics(tp.topic) {
			continue
		}
		p := Partition{Topic: tp.topic, Partition: tp.partition, Owner: owners[tp]}
		s, sok := start.Lookup(tp.topic, tp.partition)
		e, eok := end.Lookup(tp.topic, tp.partition)
		switch {
		case !sok || !eok:
			p.Err = "log offsets not listed"
			// The metadata error that kept the topic's offsets from
			// being listed (kadm files it under partition -1), e.g.
			// LEADER_NOT_AVAILABLE: said, not hidden.
			for _, l := range []kadm.ListedOffsets{start, end} {
				if o, ok := l.Lookup(tp.topic, -1); ok && o.Err != nil {
					p.Err = fmt.Sprintf("listing log offsets of topic %s: %v", tp.topic, o.Err)
					break
				}
			}
		case s.Err != nil:
			p.Err = fmt.Sprintf("listing log start offset: %v", s.Err)
		case e.Err != nil:
			p.Err = fmt.Sprintf("listing last stable offset: %v", e.Err)
		}
		p.Start, p.End = s.Offset, e.Offset
		if h, ok := hwm.Lookup(tp.topic, tp.partition); ok && h.Err == nil && p.Err == "" {
			p.Unstable = max(h.Offset-p.End, 0)
		}
		c, committed := commits[tp]
		switch {
		case committed && c.Err != nil:
			p.Err = fmt.Sprintf("fetching committed offset: %v", c.Err)
		case committed && c.At >= 0:
			p.Committed, p.HasCommit = c.At, true
			if h, ok := processor.ParseHaltNote(c.Metadata); ok && h.Offset == c.At {
				p.Halted = &Halt{Offset: h.Offset, Attempts: h.Attempts, Err: h.Err, Since: h.Since}
			}
		case m.cfg.Reset == "latest":
			p.Committed = p.End
		default:
			p.Committed = p.Start
		}
		if p.Err == "" {
			p.Lag = max(p.End-p.Committed, 0)
			p.Lost = max(p.Start-p.Committed, 0)
		}
		g.Partitions = append(g.Partitions, p)
	}
	sort.Slice(g.Partitions, func(i, j int) bool {
		a, b := g.Partitions[i], g.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	return g
}

// partial says err is a *kadm.ShardErrors where some shards answered:
// what answered is used and the rest shows up as missing.
func partial(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}
