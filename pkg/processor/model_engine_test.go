package processor

// engineLane is what the model test reads of one lane of a running engine.
type engineLane struct {
	part     int32
	queued   int   // records waiting in the lane's queue
	bytes    int64 // their bytes, in the engine's own accounting unit
	paused   bool  // the engine's own record that it paused the partition
	halted   bool  // halted by the failure policy: paused on purpose
	stopping bool  // being released (revoke, loss or shutdown)
}

// observeEngine is the model test's only window into the engine's
// internals, kept in one function so that a rewrite of lane.go and flow.go
// has one place to adapt. Everything else the model checks it sees from
// outside: handler calls, and the requests the cluster receives.
//
// With client it also returns the partitions the consumer client has
// paused. Pass it only after a lane was seen paused: the engine writes p.cl
// in Run without a lock, and a paused lane (written under the lane's mutex
// after flow read p.cl) is what orders that write before this read.
//
// counted is the engine's own count of buffered bytes, for reports.
func observeEngine(p *Processor, client bool) (lanes []engineLane, clientPaused map[int32]bool, counted int64) {
	p.mu.Lock()
	ls := make([]*lane, 0, len(p.lanes))
	for _, l := range p.lanes {
		ls = append(ls, l)
	}
	p.mu.Unlock()
	for _, l := range ls {
		n, b := l.size()
		l.mu.Lock()
		paused, halted := l.paused, l.halted
		l.mu.Unlock()
		lanes = append(lanes, engineLane{
			part: l.part, queued: n, bytes: b, paused: paused,
			halted: halted, stopping: l.stopped(),
		})
	}
	if client && p.cl != nil {
		clientPaused = map[int32]bool{}
		for _, part := range p.cl.PauseFetchPartitions(nil)[p.topic] {
			clientPaused[part] = true
		}
	}
	return lanes, clientPaused, p.bufBytes.Load()
}
