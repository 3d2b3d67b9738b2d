package processor

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// assigned starts a lane per newly assigned partition. It first drops,
// as lost, every lane of an earlier membership (see rejoin.go).
func (p *Processor) assigned(_ context.Context, cl *kgo.Client, parts map[string][]int32) {
	p.checkMember(cl, parts)
	p.mu.Lock()
	eachPart(parts, func(tp topicPart) {
		if _, ok := p.lanes[tp]; !ok {
			p.startLane(tp)
		}
	})
	p.mu.Unlock()
	// A partition paused by a previous owner-ship of this member must not
	// stay paused.
	cl.ResumeFetchPartitions(parts)
	// franz-go calls this at every session start, even with nothing new;
	// only real changes count as rebalances.
	if countParts(parts) > 0 {
		p.m.rebalance("assigned")
	}
	p.health.join()
	p.ready.set()
}

// revoked finishes the revoked partitions' in-flight batches (at most the
// drain timeout), commits them and releases them. It runs before the
// partitions move, so the commit is still this member's to make.
func (p *Processor) revoked(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	// franz-go calls this at the end of every session, even when nothing
	// is revoked; only real revocations count.
	if countParts(parts) == 0 {
		return
	}
	p.release(p.lanesOf(parts), p.cfg.Rebalance.DrainTimeout, p.cfg.Commit.Mode != CommitManual)
	p.m.rebalance("revoked")
}

// lost drops the lost partitions at once: another member may already own
// them, so nothing is committed and late completions are ignored. It
// returns only after any commit already in flight has finished, so no
// commit carrying a lost partition is sent after it returns.
func (p *Processor) lost(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	// franz-go calls this whenever a session ends in an error, even with
	// nothing assigned: until the next assignment no session is held.
	p.health.lose(time.Now())
	var lanes []*lane
	p.mu.Lock()
	eachPart(parts, func(tp topicPart) {
		if l, ok := p.lanes[tp]; ok {
			lanes = append(lanes, l)
			delete(p.lanes, tp)
		}
	})
	p.mu.Unlock()
	if len(lanes) == 0 {
		return
	}
	p.dropLost(lanes)
	p.log.Warn("partitions lost without a clean revoke; their uncommitted work will be redelivered", "partitions", len(lanes))
}

// dropLost stops and forgets lanes already removed from p.lanes, commits
// nothing for them, and returns once any commit in flight has finished, so
// no commit carrying them is sent after it returns. It returns their
// partitions.
func (p *Processor) dropLost(lanes []*lane) []topicPart {
	parts := make([]topicPart, 0, len(lanes))
	for _, l := range lanes {
		l.stopNow()
		p.forget(l)
		parts = append(parts, l.key())
	}
	p.commitMu.Lock()
	p.commitMu.Unlock() //nolint:staticcheck // an empty critical section: wait out an in-flight commit
	p.m.rebalance("lost")
	return parts
}

func (p *Processor) lanesOf(parts map[string][]int32) []*lane {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*lane
	eachPart(parts, func(tp topicPart) {
		if l, ok := p.lanes[tp]; ok {
			out = append(out, l)
		}
	})
	return out
}

// commitBound is how long release's commit may wait on the coordinator
// after a drain of timeout: at least 5 s, so a drain timeout of zero still
// commits what the lanes finished.
func commitBound(timeout time.Duration) time.Duration { return max(timeout, 5*time.Second) }

// release stops lanes, waits until one deadline, timeout from now, for
// their in-flight batches, optionally commits what they finished, and
// forgets them. Every lane still busy at the deadline is abandoned: its
// context is cancelled, release does not wait for it, and whatever it
// finishes later is ignored, so its batch is redelivered to the next owner
// (a duplicate, never a loss). A lane that stopped being this member's
// meanwhile (lost, or released by a concurrent call) is skipped: its
// offsets are not committed and its gauges are not moved twice.
func (p *Processor) release(lanes []*lane, timeout time.Duration, commit bool) {
	if len(lanes) == 0 {
		return
	}
	for _, l := range lanes {
		l.stop()
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	expired := false
	var busy []any
	for _, l := range lanes {
		if !expired {
			select {
			case <-l.done:
				continue
			case <-deadline.C:
				expired = true
			}
		}
		select {
		case <-l.done:
		default:
			l.stopNow()
			busy = append(busy, l.label())
		}
	}
	if len(busy) > 0 {
		p.log.Warn("partitions still busy at the drain timeout; abandoning their in-flight batches, which the next owner gets again",
			"partitions", busy, "timeout", timeout)
	}

	p.commitMu.Lock()
	offsets := map[topicPart]kgo.EpochOffset{}
	owned := make([]*lane, 0, len(lanes))
	p.mu.Lock()
	for _, l := range lanes {
		if p.lanes[l.key()] != l {
			continue
		}
		owned = append(owned, l)
		if eo, ok := l.uncommitted(); ok {
			offsets[l.key()] = eo
		}
	}
	p.mu.Unlock()
	if commit && len(offsets) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), commitBound(timeout))
		switch err := p.commitOffsets(ctx, offsets); {
		case errors.Is(err, errNewMember):
			// The session these lanes belonged to had ended: the group's
			// committed offsets stand, as for lost partitions.
			p.log.Warn("revoked partitions dropped uncommitted: the coordinator had ended this member's session and it rejoined as a new member; the next owner gets their uncommitted work again",
				"partitions", len(offsets))
		case err != nil:
			p.log.Error("committing released partitions", "err", err)
		}
		cancel()
	}
	p.mu.Lock()
	gone := owned[:0]
	for _, l := range owned {
		// Only this lane: a newer lane of the partition (lost and
		// assigned again meanwhile) stays.
		if p.lanes[l.key()] == l {
			delete(p.lanes, l.key())
			gone = append(gone, l)
		}
	}
	owned = gone
	p.mu.Unlock()
	p.commitMu.Unlock()

	parts := make([]topicPart, 0, len(owned))
	for _, l := range owned {
		l.stopNow()
		p.forget(l)
		parts = append(parts, l.key())
	}
	if p.cl != nil && len(parts) > 0 {
		p.cl.ResumeFetchPartitions(partsByTopic(parts))
	}
}

// forget drops a released lane's buffered records from the accounting and
// moves its gauges back; call it once per lane, after removing it from
// p.lanes.
func (p *Processor) forget(l *lane) {
	wasPaused, wasHalted := l.retire()
	p.dropQueued(l)
	if l.k != nil {
		l.k.forget()
	}
	if wasPaused {
		p.pausedN.Add(-1)
		p.m.paused(-1)
	}
	if wasHalted {
		l.m.halted(-1)
	}
	l.m.released(l.part)
	p.mu.Lock()
	if _, newer := p.lanes[l.key()]; !newer {
		l.m.lagReleased(l.part)
	}
	p.mu.Unlock()
}

// dropQueued empties a lane's queue and its share of the buffer accounting.
func (p *Processor) dropQueued(l *lane) {
	recs, bytes := l.discard()
	p.bufRecs.Add(-recs)
	p.bufBytes.Add(-bytes)
	p.m.buffered(-recs, -bytes)
}
