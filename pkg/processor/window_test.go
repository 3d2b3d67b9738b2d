package processor

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"pgregory.net/rapid"
)

// TestWindowModel checks the offset window against a plain model: records
// taken with gaps (compaction) and control records between them, finished
// in any order. After every step the commit offset is the lowest unfinished
// record's, or just past the last record taken when all are finished; it
// never moves back; the span counts from the lowest unfinished record.
func TestWindowModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var w window
		var taken []int64 // every record added, in order
		done := map[int64]bool{}
		next := int64(-1) // just past the last offset taken, -1 before any
		off := rapid.Int64Range(0, 1000).Draw(rt, "start")
		var lastLow int64 = -1
		rt.Repeat(map[string]func(*rapid.T){
			"add": func(rt *rapid.T) {
				off += rapid.Int64Range(1, 3).Draw(rt, "gap")
				w.add(off, 0, 0)
				taken = append(taken, off)
				next = off + 1
			},
			"control": func(rt *rapid.T) {
				off += rapid.Int64Range(1, 3).Draw(rt, "gap")
				w.advance(off, 0)
				next = off + 1
			},
			"finish": func(rt *rapid.T) {
				if len(taken) == 0 {
					rt.Skip("nothing taken")
				}
				o := rapid.SampledFrom(taken).Draw(rt, "offset")
				if got := w.finish(o); got == done[o] {
					rt.Fatalf("finish(%d) = %v, already finished %v", o, got, done[o])
				}
				done[o] = true
			},
			"": func(rt *rapid.T) {
				want, span, pending := next, 0, 0
				for i, o := range taken {
					if !done[o] {
						if want == next {
							want, span = o, len(taken)-i
						}
						pending++
					}
				}
				eo, ok := w.low()
				if ok != (next >= 0) || ok && eo.Offset != want {
					rt.Fatalf("low() = %d, %v; want %d (taken %v, done %v)", eo.Offset, ok, want, taken, done)
				}
				if ok && eo.Offset < lastLow {
					rt.Fatalf("low() moved back from %d to %d", lastLow, eo.Offset)
				}
				if ok {
					lastLow = eo.Offset
				}
				if w.span() != span || w.pending != pending {
					rt.Fatalf("span %d, pending %d; want %d, %d", w.span(), w.pending, span, pending)
				}
			},
		})
	})
}

// TestWindowEpoch checks that the commit carries the leader epoch of the
// record it names.
func TestWindowEpoch(t *testing.T) {
	var w window
	w.add(10, 3, 0)
	w.add(11, 4, 0)
	if eo, _ := w.low(); eo != (kgo.EpochOffset{Epoch: 3, Offset: 10}) {
		t.Fatalf("low %+v", eo)
	}
	w.finish(10)
	if eo, _ := w.low(); eo != (kgo.EpochOffset{Epoch: 4, Offset: 11}) {
		t.Fatalf("low %+v", eo)
	}
	w.finish(11)
	if eo, _ := w.low(); eo != (kgo.EpochOffset{Epoch: 4, Offset: 12}) {
		t.Fatalf("low %+v", eo)
	}
}

// TestKeyHashSpreadsBiasedKeys checks that the keys a producer put in one
// partition spread over every sub-lane, whatever hash chose the partition:
// murmur2 (the Java client and franz-go) and FNV-1a (Sarama). Without the
// salt, murmur2 keys of one of 6 partitions reach only half of 32 sub-lanes;
// without the finaliser, FNV-1a keys do.
func TestKeyHashSpreadsBiasedKeys(t *testing.T) {
	const parts, subs = 6, 32
	partitioners := map[string]func(key []byte) int{
		"murmur2": func() func([]byte) int {
			tp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
			return func(key []byte) int { return tp.Partition(&kgo.Record{Key: key}, parts) }
		}(),
		"fnv1a32": func(key []byte) int {
			h := uint32(2166136261)
			for _, c := range key {
				h ^= uint32(c)
				h *= 16777619
			}
			return int(h % parts)
		},
	}
	for name, partition := range partitioners {
		counts := make([]int, subs)
		n := 0
		for i := 0; n < 20000; i++ {
			key := []byte(fmt.Sprintf("key-%d", i))
			if partition(key) != 0 {
				continue
			}
			n++
			counts[keyHash(key)%subs]++
		}
		lo, hi := n, 0
		for _, c := range counts {
			lo, hi = min(lo, c), max(hi, c)
		}
		// 625 expected per sub-lane; a uniform spread stays well within ±25%.
		if lo < n/subs*3/4 || hi > n/subs*5/4 {
			t.Errorf("%s: keys of one partition over %d sub-lanes: min %d, max %d of %d", name, subs, lo, hi, n)
		}
	}
}
