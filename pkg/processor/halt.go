package processor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A halted partition is committed at the record it halted on, once, with
// a note in the commit's metadata: what failed and why. Kafka keeps the
// note with the group's committed offset, so tools outside the member —
// `veltrix lag`, `veltrix offsets reset --skip-halted` — see the halt after
// the member is gone, which nothing else in Kafka would tell them.

// haltNotePrefix starts the commit metadata of a halted partition.
const haltNotePrefix = "veltrix:halted "

// haltNoteMaxErr bounds the error kept in the note: brokers refuse
// metadata over offset.metadata.max.bytes (4096 by default).
const haltNoteMaxErr = 1024

// HaltNote returns the commit metadata noting h.
func HaltNote(h Halt) string {
	e := h.Err
	if len(e) > haltNoteMaxErr {
		e = e[:haltNoteMaxErr] + "…"
	}
	return fmt.Sprintf("%soffset=%d attempts=%d since=%s err=%s", haltNotePrefix, h.Offset, h.Attempts, h.Since.UTC().Format(time.RFC3339), e)
}

// ParseHaltNote reads commit metadata written by HaltNote; ok is false for
// any other metadata (another client's, or none). Partition is not in the
// note: the caller knows it.
func ParseHaltNote(meta string) (h Halt, ok bool) {
	rest, found := strings.CutPrefix(meta, haltNotePrefix)
	if !found {
		return Halt{}, false
	}
	for _, field := range []string{"offset=", "attempts=", "since=", "err="} {
		v, after, found := strings.Cut(rest, " ")
		if field == "err=" {
			v, after, found = rest, "", true
		}
		if !found || !strings.HasPrefix(v, field) {
			return Halt{}, false
		}
		v = strings.TrimPrefix(v, field)
		var err error
		switch field {
		case "offset=":
			h.Offset, err = strconv.ParseInt(v, 10, 64)
		case "attempts=":
			h.Attempts, err = strconv.Atoi(v)
		case "since=":
			h.Since, err = time.Parse(time.RFC3339, v)
		case "err=":
			h.Err = v
		}
		if err != nil {
			return Halt{}, false
		}
		rest = after
	}
	return h, true
}

// haltCommit is the commit that notes the lane's halt, owed until it
// succeeds: the halted record's offset, when everything before it is
// finished (the last finished record is just before it, or the lane never
// had a record before it). l.mu must be held.
func (l *lane) haltCommit() (kgo.EpochOffset, bool) {
	if !l.halted || l.haltNoted {
		return kgo.EpochOffset{}, false
	}
	switch off := l.haltedAt.Offset; {
	case l.hasFinish && l.finished.Offset == off:
		return l.finished, true
	case !l.hasFinish && l.firstOff == off:
		return kgo.EpochOffset{Epoch: -1, Offset: off}, true
	}
	return kgo.EpochOffset{}, false
}

// preCommit returns ctx carrying the function franz-go calls just before
// it sends the commit, with the member id and generation it will send:
//   - it refuses a commit stamped with another member id than the one the
//     lanes belong to. The check in commitOffsets runs before the call, and
//     franz-go stamps a commit issued during a rejoin with the new session's
//     id: a lane of the old membership then committed its older offset for
//     a partition another member had moved past (the model test's p2: 256
//     committed by its owner, rewound to 33);
//   - it puts each halt note on the commit of its offset.
func (p *Processor) preCommit(ctx context.Context, offsets map[topicPart]kgo.EpochOffset) context.Context {
	notes := map[topicPart]string{}
	p.mu.Lock()
	for tp, eo := range offsets {
		l := p.lanes[tp]
		if l == nil {
			continue
		}
		l.mu.Lock()
		if l.halted && !l.haltNoted && l.haltedAt.Offset == eo.Offset {
			notes[tp] = HaltNote(l.haltedAt)
		}
		l.mu.Unlock()
	}
	p.mu.Unlock()
	member := p.member.Load()
	return kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		if member != nil && req.MemberID != *member {
			return errNewMember
		}
		for i := range req.Topics {
			t := &req.Topics[i]
			for j := range t.Partitions {
				if note, ok := notes[topicPart{t.Topic, t.Partitions[j].Partition}]; ok {
					t.Partitions[j].Metadata = &note
				}
			}
		}
		return nil
	})
}
