package processor

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// flowProcessor is a Processor with no client and n records queued in
// partition 0's lane, for driving flow decisions by hand.
func flowProcessor(t *testing.T, maxRecs, n int) (*Processor, *lane) {
	t.Helper()
	cfg := Config{Buffer: BufferConfig{MaxRecords: maxRecs, MaxBytes: 1 << 30}, Batch: BatchConfig{MaxRecords: n, MaxBytes: 1 << 30}}
	p := newProcessor(kafkaConfigForTest(), "t", cfg, nil, Options{Metrics: metrics.New(prometheus.NewRegistry())})
	l := newLane(p, "t", 0)
	p.lanes[l.key()] = l
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Partition: 0, Offset: int64(i), Value: make([]byte, 10)}
	}
	l.push(recs)
	return p, l
}

// TestFlowRaceNeverLeavesPartitionPaused is the regression test for the
// pause/resume race: pausedN was published after the pause, so a lane that
// drained in that window never called flow again and its partition stayed
// paused forever (the poll then blocks on all-paused partitions). The hook
// holds a pause decision open while the lane takes its whole queue.
func TestFlowRaceNeverLeavesPartitionPaused(t *testing.T) {
	p, l := flowProcessor(t, 10, 10)
	inWindow, proceed := make(chan struct{}), make(chan struct{})
	first := true
	p.testHookFlow = func(pause, _ []topicPart) {
		if first && len(pause) == 1 {
			first = false
			close(inWindow)
			<-proceed
		}
	}
	done := make(chan struct{})
	go func() { p.flow(); close(done) }()
	<-inWindow
	// The decision to pause is made and not yet applied: drain the lane.
	if batch, last := l.take(); len(batch) != 10 || last == nil {
		t.Fatalf("took %d records", len(batch))
	}
	close(proceed)
	waitFlows(t, done)
	paused := pausedNow(l)
	if paused || p.pausedN.Load() != 0 {
		t.Fatalf("an empty lane's partition is left paused (paused=%v, pausedN=%d)", paused, p.pausedN.Load())
	}
}

// TestPollWaitsForFlowDecision is the regression test for the poll loop
// leaving its flow request to a decision in progress: a lane holding flowMu
// (descheduled, in CI under the race detector) let the poll loop go on
// fetching into a partition it had just filled past buffer.max_records,
// and buffered bytes reached 5 × the budget. The hook holds a lane's
// decision open while the poll loop queues past the bound.
func TestPollWaitsForFlowDecision(t *testing.T) {
	p, l := flowProcessor(t, 10, 5)
	held, proceed := make(chan struct{}), make(chan struct{})
	first := true
	p.testHookFlow = func(_, _ []topicPart) {
		if first {
			first = false
			close(held)
			<-proceed
		}
	}
	laneDone := make(chan struct{})
	go func() { p.flow(); close(laneDone) }() // a lane's decision, held open
	<-held
	recs := make([]*kgo.Record, 10)
	for i := range recs {
		recs[i] = &kgo.Record{Partition: 0, Offset: int64(5 + i), Value: make([]byte, 10)}
	}
	l.push(recs) // the poll loop queues 15 records against a bound of 10
	pollDone := make(chan struct{})
	go func() { p.flowAfterPoll(); close(pollDone) }()
	select {
	case <-pollDone:
		t.Fatal("the poll loop's flow returned while another decision held flowMu: it would poll again with the partition unpaused")
	case <-time.After(200 * time.Millisecond):
	}
	close(proceed)
	waitFlows(t, laneDone, pollDone)
	if !pausedNow(l) {
		t.Fatal("15 records queued against buffer.max_records 10 and the partition is not paused")
	}
}

// waitFlows waits for flow calls that close the channels when they return.
func waitFlows(t *testing.T, done ...chan struct{}) {
	t.Helper()
	for _, ch := range done {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("flow did not return")
		}
	}
}

// pausedNow reads l's paused flag.
func pausedNow(l *lane) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paused
}

// TestReleaseRechecksOwnership is the regression test for release not
// re-checking ownership: a lane lost (or released by the revoke callback)
// while shutdown drained it was committed and its gauges moved twice.
func TestReleaseRechecksOwnership(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := newProcessor(kafkaConfigForTest(), "t", Config{Commit: CommitConfig{Mode: "interval"}}, nil, Options{Metrics: metrics.New(reg)})
	var committedParts []int32
	p.testHookCommit = func(offsets map[string]map[int32]kgo.EpochOffset) {
		for part := range offsets["t"] {
			committedParts = append(committedParts, part)
		}
	}
	p.mu.Lock()
	for part := range int32(2) {
		l := p.startLane(topicPart{"t", part})
		l.finish(kgo.EpochOffset{Offset: 10})
	}
	p.mu.Unlock()
	snapshot := p.allLanes()
	p.lost(context.Background(), nil, map[string][]int32{"t": {0}})
	p.release(snapshot, 100*time.Millisecond, true)
	p.release(snapshot, 100*time.Millisecond, true) // a second release of the same lanes
	if len(committedParts) != 1 || committedParts[0] != 1 {
		t.Fatalf("committed partitions %v, want only the still-owned [1]", committedParts)
	}
	if got := testGauge(t, reg, "veltrix_partitions_assigned"); got != 0 {
		t.Fatalf("assigned gauge %v after releasing both partitions once, want 0", got)
	}
}

// TestHaltedLaneDropsLateRecords is the regression test for a halted lane
// that kept receiving records it would never handle, counted in the buffer
// forever.
func TestHaltedLaneDropsLateRecords(t *testing.T) {
	p, l := flowProcessor(t, 100, 0)
	l.halt(Halt{})
	l.push([]*kgo.Record{{Value: make([]byte, 100)}, {Value: make([]byte, 100)}})
	if n, _ := l.size(); n != 0 || p.bufRecs.Load() != 0 || p.bufBytes.Load() != 0 {
		t.Fatalf("a halted lane queued %d records (%d buffered, %d bytes)", n, p.bufRecs.Load(), p.bufBytes.Load())
	}
}

// TestBufferCountsRecordOverhead is the regression test for buffer
// accounting that counted only key and value bytes: 100-byte records cost
// about three times that in memory, so RSS could be a multiple of
// processor.buffer.max_bytes.
func TestBufferCountsRecordOverhead(t *testing.T) {
	p, _ := flowProcessor(t, 100000, 1000)
	per := p.bufBytes.Load() / 1000
	if per < recordOverhead+10 {
		t.Fatalf("a 10-byte record counts %d bytes, want at least its %d-byte overhead", per, recordOverhead+10)
	}
	r := &kgo.Record{Value: make([]byte, 100), Headers: []kgo.RecordHeader{{Key: "veltrix-seq", Value: []byte("12345")}}}
	if got := recordBytes(r); got < 100+recordOverhead+headerOverhead {
		t.Fatalf("recordBytes = %d, want ≥ %d", got, 100+recordOverhead+headerOverhead)
	}
}

func testGauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// TestFlowAfterPollDecidesWhenOneCouldBeOver pins the poll loop's shortcut:
// it skips the decision round only when nothing is paused and the buffered
// totals are under both bounds, and it decides (pausing or resuming) in
// every other case.
func TestFlowAfterPollDecidesWhenOneCouldBeOver(t *testing.T) {
	for _, tc := range []struct {
		name        string
		queued      int
		budget      int64 // processor.buffer.max_bytes
		pausedFirst bool  // the lane is paused with its queue drained
		decides     bool
		paused      bool // after
	}{
		{name: "under both bounds", queued: 9, budget: 1 << 30, decides: false, paused: false},
		{name: "a lane at max_records", queued: 10, budget: 1 << 30, decides: true, paused: true},
		{name: "buffered bytes at the budget", queued: 2, budget: 2 * (recordOverhead + 10), decides: true, paused: true},
		{name: "a paused lane to resume", queued: 0, budget: 1 << 30, pausedFirst: true, decides: true, paused: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, l := flowProcessor(t, 10, tc.queued)
			p.cfg.Buffer.MaxBytes = tc.budget
			if tc.pausedFirst {
				l.mu.Lock()
				l.paused = true
				l.mu.Unlock()
				p.pausedN.Add(1)
			}
			decided := false
			p.testHookFlow = func(_, _ []topicPart) { decided = true }
			p.flowAfterPoll()
			if decided != tc.decides {
				t.Errorf("decided = %v, want %v", decided, tc.decides)
			}
			if got := pausedNow(l); got != tc.paused {
				t.Errorf("paused = %v, want %v", got, tc.paused)
			}
		})
	}
}
