package processor

import (
	"fmt"
	"sync"
	"testing"
)

// KeyLog is a handler's view of key ordering, for the lane tests here and
// the group tests of the external package (ordering_test.go): per
// partition and key, the offsets handed over in order; the keys handed
// over in two calls at once; the most calls of one partition at once; and
// per partition the offsets whose call returned successfully. Records
// without a key are in no key's order. A handler calls Start with a batch
// when its call begins and End when it returns.
type KeyLog struct {
	mu       sync.Mutex
	seen     map[string][]int64 // "partition/key"
	running  map[string]int     // calls running per "partition/key"
	calls    map[int32]int      // calls running per partition
	maxCalls int
	overlap  []string
	returned map[int32]map[int64]bool
}

// NewKeyLog returns an empty KeyLog.
func NewKeyLog() *KeyLog {
	return &KeyLog{seen: map[string][]int64{}, running: map[string]int{}, calls: map[int32]int{}, returned: map[int32]map[int64]bool{}}
}

// batchKeys are the "partition/key" of b's records that have a key, each
// once, in order.
func batchKeys(b *Batch) []string {
	var keys []string
	in := map[string]bool{}
	for _, r := range b.Records {
		if r.Key == nil {
			continue
		}
		if k := fmt.Sprintf("%d/%s", b.Partition, r.Key); !in[k] {
			in[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// Start records a call with b beginning.
func (k *KeyLog) Start(b *Batch) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls[b.Partition]++
	k.maxCalls = max(k.maxCalls, k.calls[b.Partition])
	for _, r := range b.Records {
		if r.Key != nil {
			key := fmt.Sprintf("%d/%s", b.Partition, r.Key)
			k.seen[key] = append(k.seen[key], r.Offset)
		}
	}
	for _, key := range batchKeys(b) {
		if k.running[key]++; k.running[key] > 1 {
			k.overlap = append(k.overlap, key)
		}
	}
}

// End records the call with b returning, successfully when ok.
func (k *KeyLog) End(b *Batch, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls[b.Partition]--
	for _, key := range batchKeys(b) {
		k.running[key]--
	}
	if !ok {
		return
	}
	if k.returned[b.Partition] == nil {
		k.returned[b.Partition] = map[int64]bool{}
	}
	for _, r := range b.Records {
		k.returned[b.Partition][r.Offset] = true
	}
}

// LowestOpen is the lowest offset of part below n whose call has not
// returned successfully, n when none.
func (k *KeyLog) LowestOpen(part int32, n int64) int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	for off := int64(0); off < n; off++ {
		if !k.returned[part][off] {
			return off
		}
	}
	return n
}

// ReturnedPast counts the offsets of part above off whose call returned
// successfully.
func (k *KeyLog) ReturnedPast(part int32, off int64) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for o := range k.returned[part] {
		if o > off {
			n++
		}
	}
	return n
}

// MaxCalls is the most calls of one partition that ran at once.
func (k *KeyLog) MaxCalls() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.maxCalls
}

// Check fails t if a key was in two calls at once, if a key's records
// were handed over out of offset order (unless redelivered: a redelivery
// after a retry starts again at or before the failed record, while a first
// delivery never skips back), or if more than conc calls of a partition
// ran at once.
func (k *KeyLog) Check(t testing.TB, conc int, redelivered bool) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.overlap) > 0 {
		t.Fatalf("keys in two calls at once: %v", k.overlap[:min(5, len(k.overlap))])
	}
	for key, offs := range k.seen {
		for i := 1; i < len(offs); i++ {
			if offs[i] <= offs[i-1] && !redelivered {
				t.Fatalf("key %s handed over out of order: %v", key, offs)
			}
		}
	}
	if k.maxCalls > conc {
		t.Fatalf("%d calls of one partition at once; processor.concurrency is %d", k.maxCalls, conc)
	}
}
