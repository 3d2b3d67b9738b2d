package lag

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Bounds of the record-time reads.
const (
	firstPartitionBytes = 32 << 10 // bytes asked per partition at first
	maxPartitionBytes   = 8 << 20  // a record batch larger than this is not read
	partitionsPerFetch  = 500      // partitions per Fetch request
	maxRounds           = 8        // fetch rounds per poll
)

// offKey names one offset of one partition.
type offKey struct {
	topic     string
	partition int32
	offset    int64
}

// stamp is what the record-time reader knows about the log from an offset:
// no data record lies in [offset, clear), and when found is set the record
// at clear is one, stamped at. Below the last stable offset a log only
// grows, so this stays true while the end moves: a lookup with a later end
// resumes from clear instead of from the offset.
type stamp struct {
	clear int64
	found bool
	at    time.Time
}

// pendingBefore says whether a data record lies before end: false when only
// transaction markers or aborted records (which a read_committed consumer
// never sees) lie between the offset and end, so nothing is pending.
func (st stamp) pendingBefore(end int64) bool { return st.found && st.clear < end }

// known says whether st answers a lookup up to end.
func (st stamp) known(end int64) bool { return st.found || st.clear >= end }

// want asks what lies between an offset and end, the last stable offset.
type want struct {
	key offKey
	end int64
}

// stamps finds the first data record at or after an offset, and its
// timestamp, with plain Fetch requests to the partition leaders
// (read_committed, so aborted records are skipped; control records are
// always skipped). It caches what it learns per (topic, partition, offset):
// a committed offset that does not move is read once, and when only markers
// lay ahead of it, again only from the old end once the end moves. It is
// used by one goroutine at a time.
type stamps struct {
	cl    *kgo.Client
	adm   *kadm.Client
	cache map[offKey]stamp
	dec   kgo.Decompressor
}

func newStamps(cl *kgo.Client) *stamps {
	return &stamps{cl: cl, adm: kadm.NewClient(cl), cache: map[offKey]stamp{}, dec: kgo.DefaultDecompressor()}
}

// lookup resolves wants from the cache or by fetching, and forgets cached
// offsets that are no longer wanted. Offsets it could not resolve in time
// are absent from the result (what was read of them is kept for the next
// lookup); err reports why the reading stopped, if it did.
func (s *stamps) lookup(ctx context.Context, wants []want) (map[offKey]stamp, error) {
	out := make(map[offKey]stamp, len(wants))
	keep := make(map[offKey]stamp, len(wants))
	pending := map[topicPart]map[int64]*pend{}
	for _, w := range wants {
		if _, ok := out[w.key]; ok {
			continue
		}
		st, ok := s.cache[w.key]
		if !ok {
			st = stamp{clear: w.key.offset}
		}
		if st.known(w.end) {
			out[w.key] = st
			continue
		}
		keep[w.key] = st
		tp := topicPart{w.key.topic, w.key.partition}
		if pending[tp] == nil {
			pending[tp] = map[int64]*pend{}
		}
		if p := pending[tp][w.key.offset]; p == nil {
			pending[tp][w.key.offset] = &pend{from: st.clear, end: w.end}
		} else {
			p.end = max(p.end, w.end)
		}
	}
	var err error
	if len(pending) > 0 {
		err = s.fetch(ctx, pending, out)
		// Keep the progress of offsets not resolved in time.
		for tp, ps := range pending {
			for off, p := range ps {
				keep[offKey{tp.topic, tp.partition, off}] = stamp{clear: p.from}
			}
		}
	}
	for k, st := range out {
		keep[k] = st
	}
	s.cache = keep
	return out, err
}

// pend is an offset still being looked for.
type pend struct {
	from int64 // fetch from here: no data record lies in [offset, from)
	end  int64
}

type topicPart struct {
	topic     string
	partition int32
}

// fetch reads pending offsets in rounds: each round asks every partition
// once, from its lowest pending position, and a response resolves every
// pending offset of the partition it covers.
func (s *stamps) fetch(ctx context.Context, pending map[topicPart]map[int64]*pend, out map[offKey]stamp) error {
	topics := map[string]bool{}
	for tp := range pending {
		topics[tp.topic] = true
	}
	md, err := s.adm.Metadata(ctx, slices.Collect(maps.Keys(topics))...)
	if err != nil {
		return fmt.Errorf("reading partition leaders: %w", err)
	}
	ids := map[kadm.TopicID]string{}
	for name, t := range md.Topics {
		ids[t.ID] = name
	}
	bytes := map[topicPart]int32{}
	for round := 0; round < maxRounds && len(pending) > 0; round++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading record times: %w", err)
		}
		// The lowest position per partition, grouped by leader.
		at := map[topicPart]int64{}
		for tp, ps := range pending {
			for _, p := range ps {
				if f, ok := at[tp]; !ok || p.from < f {
					at[tp] = p.from
				}
			}
		}
		byLeader := map[int32][]topicPart{}
		for tp := range at {
			t, ok := md.Topics[tp.topic]
			if !ok || t.Err != nil {
				delete(pending, tp)
				continue
			}
			pd, ok := t.Partitions[tp.partition]
			if !ok || pd.Leader < 0 {
				delete(pending, tp)
				continue
			}
			byLeader[pd.Leader] = append(byLeader[pd.Leader], tp)
			if bytes[tp] == 0 {
				bytes[tp] = firstPartitionBytes
			}
		}
		var (
			mu      sync.Mutex
			wg      sync.WaitGroup
			results = map[topicPart]kgo.FetchPartition{}
			nexts   = map[topicPart]int64{}
			firstEr error
		)
		for leader, tps := range byLeader {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for chunk := range slices.Chunk(tps, partitionsPerFetch) {
					got, next, err := s.fetchChunk(ctx, leader, chunk, at, bytes, md, ids)
					mu.Lock()
					if err != nil && firstEr == nil {
						firstEr = err
					}
					for tp, fp := range got {
						results[tp], nexts[tp] = fp, next[tp]
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		if firstEr != nil {
			return firstEr
		}
		for tp, fp := range results {
			settle(tp, fp, at[tp], nexts[tp], pending, out, bytes)
		}
	}
	return nil
}

// settle resolves the pending offsets of tp that a fetch from f covered.
func settle(tp topicPart, fp kgo.FetchPartition, f, next int64, pending map[topicPart]map[int64]*pend, out map[offKey]stamp, bytes map[topicPart]int32) {
	if fp.Err != nil {
		delete(pending, tp)
		return
	}
	ps := pending[tp]
	for off, p := range ps {
		if p.from < f {
			continue
		}
		k := offKey{tp.topic, tp.partition, off}
		// Records are in offset order from f; the first at or after p.from
		// is the next data record the group has to read.
		i, _ := slices.BinarySearchFunc(fp.Records, p.from, func(r *kgo.Record, o int64) int { return cmp.Compare(r.Offset, o) })
		switch {
		case i < len(fp.Records):
			out[k] = stamp{clear: fp.Records[i].Offset, found: true, at: fp.Records[i].Timestamp}
			delete(ps, off)
		case next > p.from:
			// Everything up to next was markers or aborted records.
			p.from = next
			if p.from >= p.end {
				out[k] = stamp{clear: p.from}
				delete(ps, off)
			}
		}
	}
	if len(ps) == 0 {
		delete(pending, tp)
		return
	}
	if len(fp.Records) == 0 && next <= f {
		// No progress: the first batch is larger than we asked for.
		if bytes[tp] >= maxPartitionBytes {
			delete(pending, tp)
			return
		}
		bytes[tp] *= 4
	}
}

// fetchChunk sends one Fetch request for tps to leader and parses each
// partition from its fetch position.
func (s *stamps) fetchChunk(ctx context.Context, leader int32, tps []topicPart, at map[topicPart]int64, bytes map[topicPart]int32,
	md kadm.Metadata, ids map[kadm.TopicID]string) (map[topicPart]kgo.FetchPartition, map[topicPart]int64, error) {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 64 << 20
	req.IsolationLevel = 1 // read_committed: aborted records are not data
	byTopic := map[string]int{}
	for _, tp := range tps {
		i, ok := byTopic[tp.topic]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic = tp.topic
			t.TopicID = md.Topics[tp.topic].ID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[tp.topic] = i
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = tp.partition
		p.FetchOffset = at[tp]
		p.PartitionMaxBytes = bytes[tp]
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	resp, err := req.RequestWith(ctx, s.cl.Broker(int(leader)))
	if err != nil {
		return nil, nil, fmt.Errorf("fetching record times from broker %d: %w", leader, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, nil, fmt.Errorf("fetching record times from broker %d: %w", leader, err)
	}
	got := map[topicPart]kgo.FetchPartition{}
	next := map[topicPart]int64{}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		name := rt.Topic
		if n, ok := ids[rt.TopicID]; ok && rt.TopicID != ([16]byte{}) {
			name = n
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			tp := topicPart{name, rp.Partition}
			f, ok := at[tp]
			if !ok {
				continue
			}
			fp, n := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
				Offset: f, IsolationLevel: kgo.ReadCommitted(), Topic: name, Partition: rp.Partition,
			}, rp, s.dec, nil)
			got[tp], next[tp] = fp, n
		}
	}
	return got, next, nil
}
