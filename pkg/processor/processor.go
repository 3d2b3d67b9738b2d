// Package processor is veltrix's consumer-group engine: one lane per
// assigned partition (order kept within it), batches bounded by records,
// bytes and time, offsets committed only for finished work and only while
// the partition is owned, fetch pausing when queues or the memory budget
// fill, and a retry and failure policy for records the handler rejects.
package processor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// Options are the collaborators of a Processor. Zero values are valid.
type Options struct {
	// Metrics receives the engine's metrics; nil records none.
	Metrics *metrics.Metrics
	// Logger receives warnings and errors; nil discards them.
	Logger *slog.Logger
	// ClientOpts are added to the consumer client's options, e.g. metrics
	// hooks, a client id, or producer settings for dead letters. They are
	// applied before the engine's own, so the engine's invariants win: the
	// group, topic, offset reset, isolation level, manual commits, rebalance
	// blocking, balancer, group timeouts, fetch sizes and partition
	// callbacks are always the engine's.
	ClientOpts []kgo.Opt
	// Topics, when set, are the input topics instead of New's topic
	// argument, which must then be "" (see Topics).
	Topics Topics
}

// Processor consumes one topic, or several (Options.Topics), as a member of
// a consumer group and hands each partition's records to a Handler in
// batches.
type Processor struct {
	kcfg   kafka.Config
	cfg    Config
	topic  string // the input topic; with several, their description
	topics Topics // several input topics, when set
	h      Handler
	opts   Options
	log    *slog.Logger
	m      *instruments     // the group's, and the topic's with one topic
	tm     topicInstruments // each topic's, with several (instrumentsFor)

	cl *kgo.Client

	// mu guards lanes. A lane in the map is owned by this member; removing
	// it is what makes its late completions be ignored.
	mu    sync.Mutex
	lanes map[topicPart]*lane
	// last is each partition's latest lane, owned or not (guarded by mu).
	last map[topicPart]*lane

	// commitMu serialises commits with each other and with releasing
	// partitions, so a commit's snapshot never outlives ownership.
	commitMu sync.Mutex
	// flowMu serialises pause and resume decisions; flowReq counts requests
	// for one, so a request made while another runs is not lost (flow.go).
	flowMu  sync.Mutex
	flowReq atomic.Int64
	fetch   *fetchSizer

	bufRecs, bufBytes atomic.Int64
	pausedN           atomic.Int64
	ready             readiness // the first assignment (ready.go)
	health            *health   // Readiness and Live beyond it (health.go)
	closed            chan struct{}

	// member is the group member id of the session the lanes belong to,
	// set by assigned; commits are refused while the client's differs.
	member atomic.Pointer[string]
	// stale are partitions whose fetch positions outlived a rejoin as a
	// new member (rejoin.go); guarded by mu.
	stale map[topicPart]bool

	// testHookFlow, when set, runs between a flow decision and its
	// application to the client, so a test can widen that window.
	testHookFlow func(pause, resume []topicPart)
	// testHookCommit, when set, sees every commit's offsets (with or
	// without a client).
	testHookCommit func(offsets map[string]map[int32]kgo.EpochOffset)

	// txn runs the transactions of exactly_once; nil otherwise.
	txn *transact

	// inl are the lanes whose batch the poll loop handles in this poll
	// (inline.go); the poll loop's alone. turnMaxCall is inlineMaxCall
	// (a test under -race on a busy machine sets a longer one).
	inl         []*lane
	turnMaxCall time.Duration
}

// New returns a Processor for topic (or opts.Topics), or an error naming
// every problem with cfg (see Config.Validate), a missing topic or handler,
// or a dead-letter topic that is the input. It starts nothing; Run does the
// work.
func New(kcfg kafka.Config, topic string, cfg Config, h Handler, opts Options) (*Processor, error) {
	err := cfg.Validate()
	switch {
	case opts.Topics.set():
		if terr := opts.Topics.validate(topic, cfg); terr != nil {
			err = errors.Join(terr, err)
		}
		topic = describeTopics(topic, opts.Topics)
	case topic == "":
		err = errors.Join(errors.New("the topic is empty"), err)
	case cfg.OnFailure == OnFailureDLQ && DLQTopic(cfg, topic) == topic:
		err = errors.Join(fmt.Errorf("DLQTopic %q: must differ from the input topic", cfg.DLQTopic), err)
	}
	if h == nil {
		err = errors.Join(errors.New("the handler is nil"), err)
	}
	if err != nil {
		return nil, fmt.Errorf("creating a processor for topic %q: %w", topic, err)
	}
	return newProcessor(kcfg, topic, cfg, h, opts), nil
}

// newProcessor builds a Processor from a configuration it does not check,
// so unit tests can drive parts of the engine with a partial Config.
func newProcessor(kcfg kafka.Config, topic string, cfg Config, h Handler, opts Options) *Processor {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mtopic := topic
	if opts.Topics.set() {
		mtopic = "" // the group's instruments only; each topic's in p.tm
	}
	p := &Processor{
		kcfg: kcfg, cfg: cfg, topic: topic, topics: opts.Topics, h: h, opts: opts,
		log:    log.With("group", cfg.Group.ID, "topic", topic),
		m:      newInstruments(opts.Metrics, cfg.Group.ID, mtopic),
		lanes:  map[topicPart]*lane{},
		last:   map[topicPart]*lane{},
		closed: make(chan struct{}),
		fetch:  newFetchSizer(cfg),
		health: newHealth(log.With("group", cfg.Group.ID, "topic", topic), cfg),

		turnMaxCall: inlineMaxCall,
	}
	for _, t := range opts.Topics.Names {
		p.instrumentsFor(t) // every named topic's series exist from the first scrape
	}
	return p
}

// Halt is one partition stopped by on_failure=halt, as Halted reports it.
type Halt struct {
	Topic     string
	Partition int32
	Offset    int64     // the record that failed every attempt; nothing from it on is committed
	Attempts  int       // handler attempts it failed
	Err       string    // the handler's last error for it
	Since     time.Time // when the partition halted
}

// Halted returns the partitions this member owns that are halted, in
// topic and partition order. A halted partition stays halted until this member
// releases it (a restart, or a rebalance that moves it). Safe for
// concurrent use.
func (p *Processor) Halted() []Halt {
	p.mu.Lock()
	lanes := make([]*lane, 0, len(p.lanes))
	for _, l := range p.lanes {
		lanes = append(lanes, l)
	}
	p.mu.Unlock()
	var out []Halt
	for _, l := range lanes {
		l.mu.Lock()
		if l.halted && !l.gone {
			out = append(out, l.haltedAt)
		}
		l.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Halt) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// Assigned returns the partitions this member owns now; with several
// topics, of every topic (Owned tells them apart).
func (p *Processor) Assigned() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int32, 0, len(p.lanes))
	for tp := range p.lanes {
		out = append(out, tp.part)
	}
	return out
}

// Owned returns the partitions this member owns now, by topic, each
// topic's in order.
func (p *Processor) Owned() map[string][]int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]int32{}
	for tp := range p.lanes {
		out[tp.topic] = append(out[tp.topic], tp.part)
	}
	for _, ps := range out {
		slices.Sort(ps)
	}
	return out
}

// Run joins the group and processes until ctx is cancelled, then finishes
// in-flight batches (at most processor.shutdown_timeout), commits, and
// leaves the group (a static member, with processor.group.instance_id,
// does not leave: its partitions wait for it until the session timeout).
// Rebalances stay blocked during that drain, so no partition moves while
// its final offsets are committed. It returns nil after a clean shutdown,
// or the error that stopped it: an unreachable cluster within
// kafka.connect_timeout, ErrFenced, or ErrTopicGone.
//
// With exactly_once, an end of transaction whose outcome is unknown closes
// the client and Run starts again with a new one (transact.go).
func (p *Processor) Run(ctx context.Context) error {
	connected, err := p.run(ctx)
	for errors.Is(err, errRecreate) {
		p.log.Warn("recreating the transactional client", "err", err)
		var again bool
		again, err = p.run(ctx)
		connected = connected || again
	}
	if connected {
		close(p.closed)
		p.health.stop()
	}
	return err
}

// run is one client's life: Run without the recreation.
func (p *Processor) run(ctx context.Context) (connected bool, _ error) {
	cl, err := p.connect(ctx)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// Stopped while connecting. franz-go joins the group as soon
			// as the client exists, so the first assignment (and Readied)
			// may already have come while the ping waited: closing the
			// client revoked it, with nothing fetched. A clean stop.
			return false, nil
		}
		return false, err
	}
	p.cl = cl

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	// Interval mode commits on this loop. Batch mode commits after each
	// batch, and this loop commits what a failed batch commit left (a
	// rebalance in progress refuses commits): without it, a partition that
	// receives no more records kept its finished work uncommitted until
	// shutdown. When every batch commit succeeded it finds nothing to do.
	if p.txn == nil && (p.cfg.Commit.Mode == CommitInterval || p.cfg.Commit.Mode == CommitBatch) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.commitLoop(ctx)
		}()
	}

	readCommitted := p.cfg.IsolationLevel != ReadUncommitted
	ferrs := newFetchErrors(p.log, p.topic, p.cfg.Group.RebalanceTimeout)
	for {
		// A poll takes everything the client has buffered (at most one
		// fetch response per broker), so nothing already fetched is left
		// in the client to be dropped when flow pauses its partition.
		p.health.polling()
		pctx, pdone := p.pollContext(ctx) // exactly_once: bounded by the transaction's end (transact.go)
		fetches := cl.PollFetches(pctx)
		pdone()
		p.health.working(time.Now())
		if fetches.IsClientClosed() || ctx.Err() != nil {
			// Rebalances stay blocked (BlockRebalanceOnPoll) until the
			// drain below has committed.
			break
		}
		// Fetch errors are logged once per streak and back the loop off
		// (fetcherr.go): a broker answers an unreadable partition at once,
		// and polling again at once spun the client and flooded the log. A
		// topic that stays unknown is gone: Run ends with ErrTopicGone.
		var errs []partError
		fetches.EachError(func(t string, part int32, err error) {
			switch {
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			case errors.Is(err, kerr.FencedInstanceID):
				cancel(fmt.Errorf("%w: processor.group.instance_id=%q: %w", ErrFenced, p.cfg.Group.InstanceID, err))
			default:
				errs = append(errs, partError{topicPart{t, part}, err})
			}
		})
		var wait time.Duration
		if len(errs) > 0 || ferrs.active() {
			withRecords := map[topicPart]bool{}
			fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
				if len(fp.Records) > 0 {
					withRecords[topicPart{fp.Topic, fp.Partition}] = true
				}
			})
			var gone error
			wait, gone = ferrs.observe(time.Now(), errs, withRecords)
			// A topic a pattern matched may be deleted: the pattern
			// simply stops matching it, and the others go on.
			if gone != nil && p.topics.Pattern == "" {
				cancel(gone)
			}
			if p.topics.Pattern == "" {
				p.health.setUnreadable(ferrs.unreadable())
			}
		}
		// Partitions kept across a rejoin as a new member have stale fetch
		// positions: their records are dropped until the positions are set
		// back to the group's committed offsets (rejoin.go).
		resync := p.resync(ctx, cl)
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			tp := topicPart{fp.Topic, fp.Partition}
			if len(fp.Records) == 0 || resync[tp] {
				return
			}
			l := p.laneFor(tp)
			if l.hand(fp.Records) {
				p.inl = append(p.inl, l)
			}
			last := fp.Records[len(fp.Records)-1].Offset
			end := fp.HighWatermark
			if readCommitted {
				end = fp.LastStableOffset // records of open transactions cannot be read yet
			}
			l.setLag(end - last - 1)
		})
		// The poll loop's turns, once every other lane is woken (inline.go).
		for i, l := range p.inl {
			l.runInline()
			p.inl[i] = nil
		}
		p.inl = p.inl[:0]
		p.flowAfterPoll()
		p.fetch.resize(cl)
		cl.AllowRebalance()
		if p.txn != nil {
			p.txn.afterPoll(ctx, fetches, cancel) // transact.go
		}
		if wait > 0 {
			p.health.polling()
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}

	// Shutdown: finish in-flight work, commit it, then leave the group. The
	// revoke callback that Close triggers finds nothing left to release.
	if p.txn != nil {
		p.txn.finish(context.Cause(ctx)) // transact.go
	}
	// The drain and the final commit are waits with their own bounds (the
	// lanes' in-flight batches, then the coordinator): within them the
	// stopping member is not wedged.
	p.health.awaiting(time.Now().Add(p.cfg.ShutdownTimeout + commitBound(p.cfg.ShutdownTimeout)))
	p.release(p.allLanes(), p.cfg.ShutdownTimeout, p.cfg.Commit.Mode != CommitManual)
	wg.Wait()
	cl.CloseAllowingRebalance()
	switch err := context.Cause(ctx); {
	case errors.Is(err, ErrFenced):
		p.log.Error("this member was fenced: another running member uses the same static membership id", "err", err)
		return true, err
	case errors.Is(err, ErrTopicGone):
		p.log.Error("stopping: the input topic is unreadable", "err", err)
		return true, err
	case errors.Is(err, errRecreate):
		return true, err
	}
	return true, nil
}

// ErrFenced is returned by Run when the group coordinator fenced this
// member because another member joined with the same
// processor.group.instance_id: two replicas must never share one.
var ErrFenced = errors.New("fenced by another member with the same static membership id")

func (p *Processor) clientOptions() []kgo.Opt {
	c := p.cfg
	start := kgo.NewOffset().AtStart()
	if c.StartOffset == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	isolation := kgo.ReadCommitted()
	if c.IsolationLevel == ReadUncommitted {
		isolation = kgo.ReadUncommitted()
	}
	maxBytes, maxPart := p.fetch.initial()
	opts := append([]kgo.Opt(nil), p.opts.ClientOpts...)
	opts = append(opts,
		kgo.ConsumerGroup(c.Group.ID),
		kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(isolation),
		// Transaction markers come back as control records, so a lane can
		// finish their offsets (lane.take filters them from batches).
		kgo.KeepControlRecords(),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.Balancers(balancer(c.Group.Balancer)),
		kgo.SessionTimeout(c.Group.SessionTimeout),
		kgo.RebalanceTimeout(c.Group.RebalanceTimeout),
		kgo.HeartbeatInterval(c.Group.HeartbeatInterval),
		kgo.FetchMaxWait(c.Fetch.MaxWait),
		kgo.FetchMaxBytes(maxBytes),
		kgo.FetchMaxPartitionBytes(maxPart),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.revoked),
		kgo.OnPartitionsLost(p.lost),
		kgo.WithHooks(p.fetch, p.health),
	)
	opts = append(opts, p.consumeOptions()...)
	if c.Group.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(c.Group.InstanceID))
	}
	return opts
}

func balancer(name string) kgo.GroupBalancer {
	switch name {
	case "sticky":
		return kgo.StickyBalancer()
	case "range":
		return kgo.RangeBalancer()
	case "roundrobin":
		return kgo.RoundRobinBalancer()
	}
	return kgo.CooperativeStickyBalancer()
}

// laneFor returns the lane of an owned partition. Fetches only carry owned
// partitions (assignment is gated by BlockRebalanceOnPoll), so a missing lane
// is created rather than its records dropped.
func (p *Processor) laneFor(tp topicPart) *lane {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.lanes[tp]
	if !ok {
		l = p.startLane(tp)
	}
	return l
}

// startLane creates and starts a lane; p.mu must be held.
func (p *Processor) startLane(tp topicPart) *lane {
	l := newLane(p, tp.topic, tp.part)
	// A lane abandoned with a handler call still running (lost, or busy at
	// a drain deadline, with a handler ignoring its context) must finish
	// that call before the partition's next lane calls the handler: the
	// Handler contract holds across a partition's owner-ships too.
	if prev := p.last[tp]; prev != nil {
		l.after = prev.done
	}
	if p.cfg.Ordering.concurrent() {
		l.k = newKeyed(l)
	}
	p.last[tp] = l
	p.lanes[tp] = l
	l.m.laneStarted()
	go l.run()
	return l
}

func (p *Processor) allLanes() []*lane {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*lane, 0, len(p.lanes))
	for _, l := range p.lanes {
		out = append(out, l)
	}
	return out
}

func partitionLabel(part int32) string { return strconv.Itoa(int(part)) }
