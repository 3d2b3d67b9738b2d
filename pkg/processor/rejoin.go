package processor

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errNewMember refuses a commit built for an earlier membership.
var errNewMember = errors.New("not committing: this member rejoined the group under a new member id and its partitions are being reset")

// A member whose session the coordinator ended (frozen past its session
// timeout, say) learns it only when it resumes. When its next JoinGroup is
// answered UNKNOWN_MEMBER_ID, franz-go rejoins without a member id and does
// not call the lost callback; with a cooperative balancer the new
// assignment can hand back partitions it held before, which franz-go keeps
// fetching from its old positions and never reports as assigned. Meanwhile
// another member processed and committed past those positions. Left alone,
// the old lanes would keep handling records the group already finished and
// commit their older offsets under the new, valid generation — rewinding
// the group (the zombie fault scenario found it).
//
// So the engine tracks the member id of the session its lanes belong to:
//   - commitOffsets refuses to commit while the client's member id differs
//     from the one recorded at the last assignment (the window between the
//     new join and the assigned callback);
//   - assigned, seeing a new member id, drops every existing lane as lost
//     (nothing committed) and marks its partitions stale;
//   - the poll loop drops stale partitions' records and sets their fetch
//     positions to the group's committed offsets (SetOffsets, from the
//     polling goroutine, before AllowRebalance, as franz-go requires), so
//     they are read again from where the group really is.

// checkMember records the session's member id and, when it changed, drops
// the lanes of the earlier membership as lost. It runs in the assigned
// callback.
func (p *Processor) checkMember(cl *kgo.Client, added map[string][]int32) {
	mid, _ := cl.GroupMetadata()
	prev := p.member.Swap(&mid)
	if prev == nil || *prev == mid {
		return
	}
	isAdded := map[topicPart]bool{}
	eachPart(added, func(tp topicPart) { isAdded[tp] = true })
	var lanes []*lane
	p.mu.Lock()
	for tp, l := range p.lanes {
		lanes = append(lanes, l)
		delete(p.lanes, tp)
		if !isAdded[tp] {
			// Kept by the client across the rejoin, at a stale position;
			// added partitions start from the committed offset anyway.
			if p.stale == nil {
				p.stale = map[topicPart]bool{}
			}
			p.stale[tp] = true
		}
	}
	p.mu.Unlock()
	if len(lanes) == 0 {
		return
	}
	parts := p.dropLost(lanes)
	// A pause of the old lane must not outlive it: kept partitions are not
	// among those assigned resumes.
	cl.ResumeFetchPartitions(partsByTopic(parts))
	p.log.Warn("rejoined the group as a new member (the coordinator had ended this member's session); partitions of the old membership dropped uncommitted and read again from the group's committed offsets",
		"partitions", len(lanes), "member_id", mid)
}

// resync sets the fetch positions of stale partitions to the group's
// committed offsets and returns the partitions whose records this poll must
// drop. It runs in the poll loop; a failed offset read is retried at the
// next poll, the partitions staying stale meanwhile.
func (p *Processor) resync(ctx context.Context, cl *kgo.Client) map[topicPart]bool {
	p.mu.Lock()
	if len(p.stale) == 0 {
		p.mu.Unlock()
		return nil
	}
	stale := p.stale
	p.stale = nil
	p.mu.Unlock()

	// The poll loop waits on this: bounded well inside the wedge bound
	// (health.go), so a coordinator that moves meanwhile costs a retry at
	// the next poll, not a failing /healthz.
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Group.RebalanceTimeout/2)
	defer cancel()
	adm := kadm.NewClient(cl)
	committed, err := adm.FetchOffsets(ctx, p.cfg.Group.ID)
	if err == nil {
		err = committed.Error()
	}
	var starts kadm.ListedOffsets
	if err == nil {
		var topics []string
		for tp := range stale {
			if !slices.Contains(topics, tp.topic) {
				topics = append(topics, tp.topic)
			}
		}
		if p.cfg.StartOffset == "latest" {
			starts, err = adm.ListEndOffsets(ctx, topics...)
		} else {
			starts, err = adm.ListStartOffsets(ctx, topics...)
		}
	}
	if err != nil {
		p.log.Warn("reading committed offsets to reset partitions kept across a rejoin; retrying at the next poll", "err", err)
		p.mu.Lock()
		if p.stale == nil {
			p.stale = map[topicPart]bool{}
		}
		for tp := range stale {
			p.stale[tp] = true
		}
		p.mu.Unlock()
		return stale
	}
	set := map[topicPart]kgo.EpochOffset{}
	for tp := range stale {
		if o, ok := committed.Lookup(tp.topic, tp.part); ok && o.At >= 0 {
			set[tp] = kgo.EpochOffset{Epoch: -1, Offset: o.At}
		} else if o, ok := starts.Lookup(tp.topic, tp.part); ok {
			set[tp] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset}
		}
	}
	cl.SetOffsets(offsetsByTopic(set))
	return stale
}
