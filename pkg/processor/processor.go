// Package processor is veltrix's consumer-group engine: one lane per
// assigned partition (order kept within it), batches bounded by records,
// bytes and time, offsets committed only for finished work and only while
// the partition is owned, fetch pausing when queues or the memory budget
// fill, and a retry and failure policy for records the handler rejects.
package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/metrics"
)

// Options are the collaborators of a Processor. Zero values are valid.
type Options struct {
	// Metrics receives the engine's metrics; nil records none.
	Metrics *metrics.Metrics
	// Logger receives warnings and errors; nil discards them.
	Logger *slog.Logger
	// HandlerTimeout fails a handler call that runs longer; 0 means none.
	HandlerTimeout time.Duration
	// ClientOpts are added to the consumer client's options (after the
	// engine's own, so they win), e.g. metrics hooks or a client id.
	ClientOpts []kgo.Opt
}

// Processor consumes one topic as a member of a consumer group and hands
// each partition's records to a Handler in batches.
type Processor struct {
	kcfg  kafka.Config
	cfg   Config
	topic string
	h     Handler
	opts  Options
	log   *slog.Logger
	m     *instruments

	cl *kgo.Client

	// mu guards lanes. A lane in the map is owned by this member; removing
	// it is what makes its late completions be ignored.
	mu    sync.Mutex
	lanes map[int32]*lane

	// commitMu serialises commits with each other and with releasing
	// partitions, so a commit's snapshot never outlives ownership.
	commitMu sync.Mutex
	// flowMu serialises pause and resume decisions.
	flowMu sync.Mutex

	bufRecs, bufBytes atomic.Int64
	pausedN           atomic.Int64
	ready             atomic.Bool
	closed            chan struct{}
}

// New returns a Processor for topic. It validates nothing the config
// package already validated and starts nothing; Run does the work.
func New(kcfg kafka.Config, topic string, cfg Config, h Handler, opts Options) *Processor {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Processor{
		kcfg: kcfg, cfg: cfg, topic: topic, h: h, opts: opts,
		log:    log.With("group", cfg.Group.ID, "topic", topic),
		m:      newInstruments(opts.Metrics, cfg.Group.ID, topic),
		lanes:  map[int32]*lane{},
		closed: make(chan struct{}),
	}
}

// Ready reports whether the processor has connected and joined its group
// (it has received its first assignment, possibly empty).
func (p *Processor) Ready() bool { return p.ready.Load() }

// Assigned returns the partitions this member owns now.
func (p *Processor) Assigned() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int32, 0, len(p.lanes))
	for part := range p.lanes {
		out = append(out, part)
	}
	return out
}

// Run joins the group and processes until ctx is cancelled, then finishes
// in-flight batches (at most processor.shutdown_timeout), commits, and
// leaves the group. It returns nil after a clean shutdown, or the error
// that stopped it (an unreachable cluster within kafka.connect_timeout).
func (p *Processor) Run(ctx context.Context) error {
	cl, err := kafka.Connect(ctx, p.kcfg, p.clientOptions()...)
	if err != nil {
		return err
	}
	p.cl = cl
	defer close(p.closed)

	var wg sync.WaitGroup
	if p.cfg.Commit.Mode == "interval" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.commitLoop(ctx)
		}()
	}

	for {
		// One poll takes at most buffer.max_records records, so the queues
		// overshoot the memory budget by at most that many records; the
		// rest stay in the client, which drops them if the partition pauses.
		fetches := cl.PollRecords(ctx, p.cfg.Buffer.MaxRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			cl.AllowRebalance()
			break
		}
		fetches.EachError(func(t string, part int32, err error) {
			if !errors.Is(err, context.Canceled) {
				p.log.Warn("fetch error", "partition", part, "err", err)
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			l := p.laneFor(fp.Partition)
			l.push(fp.Records)
			last := fp.Records[len(fp.Records)-1].Offset
			p.m.lag(fp.Partition, fp.HighWatermark-last-1)
		})
		p.flow()
		cl.AllowRebalance()
	}

	// Shutdown: finish in-flight work, commit it, then leave the group. The
	// revoke callback that Close triggers finds nothing left to release.
	p.release(p.allLanes(), p.cfg.ShutdownTimeout, p.cfg.Commit.Mode != "manual")
	wg.Wait()
	cl.CloseAllowingRebalance()
	return nil
}

func (p *Processor) clientOptions() []kgo.Opt {
	c := p.cfg
	start := kgo.NewOffset().AtStart()
	if c.StartOffset == "latest" {
		start = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{
		kgo.ConsumerGroup(c.Group.ID),
		kgo.ConsumeTopics(p.topic),
		kgo.ConsumeResetOffset(start),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.Balancers(balancer(c.Group.Balancer)),
		kgo.SessionTimeout(c.Group.SessionTimeout),
		kgo.RebalanceTimeout(c.Group.RebalanceTimeout),
		kgo.HeartbeatInterval(c.Group.HeartbeatInterval),
		kgo.FetchMaxWait(c.Fetch.MaxWait),
		kgo.FetchMaxBytes(int32(c.Fetch.MaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(c.Fetch.MaxPartitionBytes)),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.revoked),
		kgo.OnPartitionsLost(p.lost),
	}
	if c.Group.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(c.Group.InstanceID))
	}
	return append(opts, p.opts.ClientOpts...)
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
func (p *Processor) laneFor(part int32) *lane {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.lanes[part]
	if !ok {
		l = p.startLane(part)
	}
	return l
}

// startLane creates and starts a lane; p.mu must be held.
func (p *Processor) startLane(part int32) *lane {
	l := newLane(p, part)
	p.lanes[part] = l
	p.m.laneStarted()
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

// assigned starts a lane per newly assigned partition.
func (p *Processor) assigned(_ context.Context, cl *kgo.Client, parts map[string][]int32) {
	p.mu.Lock()
	for _, part := range parts[p.topic] {
		if _, ok := p.lanes[part]; !ok {
			p.startLane(part)
		}
	}
	p.mu.Unlock()
	// A partition paused by a previous owner-ship of this member must not
	// stay paused.
	cl.ResumeFetchPartitions(parts)
	// franz-go calls this at every session start, even with nothing new;
	// only real changes count as rebalances.
	if len(parts[p.topic]) > 0 {
		p.m.rebalance("assigned")
	}
	p.ready.Store(true)
}

// revoked finishes the revoked partitions' in-flight batches (at most the
// drain timeout), commits them and releases them. It runs before the
// partitions move, so the commit is still this member's to make.
func (p *Processor) revoked(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	// franz-go calls this at the end of every session, even when nothing
	// is revoked; only real revocations count.
	if len(parts[p.topic]) == 0 {
		return
	}
	p.release(p.lanesOf(parts[p.topic]), p.cfg.Rebalance.DrainTimeout, p.cfg.Commit.Mode != "manual")
	p.m.rebalance("revoked")
}

// lost drops the lost partitions at once: another member may already own
// them, so nothing is committed and late completions are ignored.
func (p *Processor) lost(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	lanes := p.lanesOf(parts[p.topic])
	if len(lanes) == 0 {
		return
	}
	p.mu.Lock()
	for _, l := range lanes {
		delete(p.lanes, l.part)
	}
	p.mu.Unlock()
	for _, l := range lanes {
		l.stopNow()
		p.forget(l)
	}
	p.m.rebalance("lost")
	p.log.Warn("partitions lost without a clean revoke; their uncommitted work will be redelivered", "partitions", len(lanes))
}

func (p *Processor) lanesOf(parts []int32) []*lane {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*lane
	for _, part := range parts {
		if l, ok := p.lanes[part]; ok {
			out = append(out, l)
		}
	}
	return out
}

// release stops lanes, waits up to timeout for their in-flight batch,
// optionally commits what they finished, and forgets them. A lane still
// busy at the timeout is abandoned: its context is cancelled and whatever
// it finishes later is ignored, so its batch is redelivered to the next
// owner (a duplicate, never a loss).
func (p *Processor) release(lanes []*lane, timeout time.Duration, commit bool) {
	if len(lanes) == 0 {
		return
	}
	for _, l := range lanes {
		l.stop()
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, l := range lanes {
		select {
		case <-l.done:
		case <-deadline.C:
			p.log.Warn("partition still busy at the drain timeout; abandoning its in-flight batch", "partition", l.part, "timeout", timeout)
		}
	}

	p.commitMu.Lock()
	offsets := map[int32]kgo.EpochOffset{}
	p.mu.Lock()
	for _, l := range lanes {
		if eo, ok := l.uncommitted(); ok {
			offsets[l.part] = eo
		}
		delete(p.lanes, l.part)
	}
	p.mu.Unlock()
	if commit && len(offsets) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), max(timeout, 5*time.Second))
		if err := p.commitOffsets(ctx, offsets); err != nil {
			p.log.Error("committing released partitions", "err", err)
		}
		cancel()
	}
	p.commitMu.Unlock()

	parts := make([]int32, 0, len(lanes))
	for _, l := range lanes {
		l.stopNow()
		p.forget(l)
		parts = append(parts, l.part)
	}
	if p.cl != nil {
		p.cl.ResumeFetchPartitions(map[string][]int32{p.topic: parts})
	}
}

// forget drops a released lane's buffered records from the accounting.
func (p *Processor) forget(l *lane) {
	p.dropQueued(l)
	if l.setPaused(false) {
		p.pausedN.Add(-1)
		p.m.paused(-1)
	}
	if l.halted.Load() {
		p.m.halted(-1)
	}
	p.m.released(l.part)
}

// dropQueued empties a lane's queue and its share of the buffer accounting.
func (p *Processor) dropQueued(l *lane) {
	recs, bytes := l.discard()
	p.bufRecs.Add(-recs)
	p.bufBytes.Add(-bytes)
	p.m.buffered(-recs, -bytes)
}

// Commit commits every finished, uncommitted offset of the partitions this
// member owns. It is how the Go API commits in manual mode; the other modes
// call it themselves. It is safe for concurrent use.
func (p *Processor) Commit(ctx context.Context) error {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	offsets := map[int32]kgo.EpochOffset{}
	p.mu.Lock()
	for part, l := range p.lanes {
		if eo, ok := l.uncommitted(); ok {
			offsets[part] = eo
		}
	}
	p.mu.Unlock()
	return p.commitOffsets(ctx, offsets)
}

// commitLoop commits finished work every commit interval until ctx ends.
func (p *Processor) commitLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.Commit.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, max(p.cfg.Commit.Interval, 10*time.Second))
			if err := p.Commit(cctx); err != nil && ctx.Err() == nil {
				p.log.Warn("interval commit failed; retrying at the next interval", "err", err)
			}
			cancel()
		}
	}
}

// commitOffsets commits offsets synchronously; p.commitMu must be held.
// On success each lane's committed mark moves forward.
func (p *Processor) commitOffsets(ctx context.Context, offsets map[int32]kgo.EpochOffset) error {
	if len(offsets) == 0 || p.cl == nil {
		return nil
	}
	var cerr error
	p.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{p.topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, pr := range t.Partitions {
					if e := kerr.ErrorForCode(pr.ErrorCode); e != nil && cerr == nil {
						cerr = fmt.Errorf("partition %d: %w", pr.Partition, e)
					}
				}
			}
		})
	if cerr != nil {
		p.m.commitError()
		return fmt.Errorf("committing offsets of %s: %w", p.topic, cerr)
	}
	p.m.commit()
	p.mu.Lock()
	for part, eo := range offsets {
		if l, ok := p.lanes[part]; ok {
			l.committed(eo.Offset)
		}
	}
	p.mu.Unlock()
	return nil
}

func partitionLabel(part int32) string { return strconv.Itoa(int(part)) }
