package processor

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Commit commits every finished, uncommitted offset of the partitions this
// member owns. It is how the Go API commits in manual mode; the other modes
// call it themselves. It is safe for concurrent use.
func (p *Processor) Commit(ctx context.Context) error {
	p.commitMu.Lock()
	defer p.commitMu.Unlock()
	offsets := map[topicPart]kgo.EpochOffset{}
	p.mu.Lock()
	for tp, l := range p.lanes {
		if eo, ok := l.uncommitted(); ok {
			offsets[tp] = eo
		}
	}
	p.mu.Unlock()
	return p.commitOffsets(ctx, offsets)
}

// commitLoop commits finished work every commit interval until ctx ends:
// all of it in interval mode, what a failed commit left in batch mode.
func (p *Processor) commitLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.Commit.Interval)
	defer t.Stop()
	// A failing commit is logged as a streak: when it starts failing, with
	// a count every streakRepeatLog, and once when a commit succeeds again.
	var failures streak
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, max(p.cfg.Commit.Interval, 10*time.Second))
			err := p.Commit(cctx)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil:
				if failures.hit(time.Now()) {
					p.log.Warn("commit failed; retrying at every commit interval", "mode", p.cfg.Commit.Mode, "err", err, "failures", failures.n)
				}
			case err == nil && failures.n > 0:
				p.log.Info("commits succeed again", "mode", p.cfg.Commit.Mode, "failures", failures.n)
				failures = streak{}
			}
		}
	}
}

// commitOffsets commits offsets synchronously; p.commitMu must be held.
// On success each lane's committed mark moves forward.
func (p *Processor) commitOffsets(ctx context.Context, offsets map[topicPart]kgo.EpochOffset) error {
	if len(offsets) > 0 && p.testHookCommit != nil {
		p.testHookCommit(offsetsByTopic(offsets))
	}
	if len(offsets) == 0 || p.cl == nil || p.txn != nil {
		// With exactly_once, offsets are committed only in transactions.
		return nil
	}
	if m := p.member.Load(); m != nil {
		if mid, _ := p.cl.GroupMetadata(); mid != *m {
			p.m.commitError()
			return errNewMember
		}
	}
	ctx = p.preCommit(ctx, offsets)
	var cerr error
	p.cl.CommitOffsetsSync(ctx, offsetsByTopic(offsets),
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, pr := range t.Partitions {
					if e := kerr.ErrorForCode(pr.ErrorCode); e != nil && cerr == nil {
						cerr = fmt.Errorf("%s partition %d: %w", t.Topic, pr.Partition, e)
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
	for tp, eo := range offsets {
		if l, ok := p.lanes[tp]; ok {
			l.committed(eo.Offset)
		}
	}
	p.mu.Unlock()
	return nil
}
