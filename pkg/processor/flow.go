package processor

// flow pauses fetching for partitions whose queue is full, or that hold
// records while the instance's buffered bytes exceed processor.buffer.max_bytes,
// and resumes them once they drained to half (a partition with an empty
// queue is always resumed, so one stuck partition holding the budget never
// stops the others). A halted partition stays paused. Paused partitions keep
// their fetch position: franz-go drops paused buffered data without moving
// it, so nothing is skipped; that data is fetched again after the resume,
// which is why fetches are sized from the buffer bounds (fetchsize.go).
//
// It is called by the poll loop after each fetch (flowAfterPoll), by a
// lane after taking a batch while its own partition or any other is
// paused, and on halt.
//
// Race freedom: a decision reads a lane's queue length and sets its paused
// flag in one critical section of lane.mu, and take shortens the queue and
// reads the flag in one critical section too; so either the decision saw
// the shorter queue, or the lane sees paused=true and calls flow again. A
// lane's call that finds another in progress does not wait: it bumps
// flowReq, and the running call decides again before it returns when
// flowReq moved while it held flowMu. No request is lost, and lanes never
// block on the client's pause calls of another decision.
func (p *Processor) flow() { p.flowWith(p.flowMu.TryLock) }

// flowAfterPoll is flow for the poll loop: it waits for a decision in
// progress instead of leaving its request to it, so the records it has just
// queued are paused for before it polls again. Left to a lane's decision, a
// lane descheduled while it held flowMu (2 cores, the race detector, CI
// under load) let the poll loop fetch four more responses into a partition
// past buffer.max_records, and the queue reached 5 × the budget.
//
// Most polls need no decision: with nothing paused and the buffered
// totals under both bounds, no lane can be over one (a lane's queue is at
// most the total, which only this loop raises), so the round — a lock of
// every lane, per poll — is skipped. A halt asks for its own decision.
func (p *Processor) flowAfterPoll() {
	if p.pausedN.Load() == 0 && p.bufRecs.Load() < int64(p.cfg.Buffer.MaxRecords) && p.bufBytes.Load() < p.cfg.Buffer.MaxBytes {
		return
	}
	p.flowWith(func() bool { p.flowMu.Lock(); return true })
}

// flowWith runs decisions while lock acquires flowMu, repeating while
// requests arrived during one.
func (p *Processor) flowWith(lock func() bool) {
	p.flowReq.Add(1)
	for lock() {
		req := p.flowReq.Load()
		if p.decideFlow() {
			p.flowReq.Add(1)
		}
		p.flowMu.Unlock()
		if p.flowReq.Load() == req {
			return
		}
		lock = p.flowMu.TryLock // a later request's own caller, or this one, decides next
	}
}

// decideFlow makes one round of pause and resume decisions and applies them
// to the client; p.flowMu must be held. It reports whether the buffered
// bytes moved during the round while something is paused: a lane that took
// a batch after the round read the total may have checked pausedN before
// this round raised it, so the round is repeated with the fresh total.
func (p *Processor) decideFlow() (again bool) {
	maxRecs, budget := p.cfg.Buffer.MaxRecords, p.cfg.Buffer.MaxBytes
	total := p.bufBytes.Load()
	p.mu.Lock()
	lanes := make([]*lane, 0, len(p.lanes))
	for _, l := range p.lanes {
		lanes = append(lanes, l)
	}
	p.mu.Unlock()
	var pause, resume []topicPart
	for _, l := range lanes {
		l.mu.Lock()
		if l.gone {
			l.mu.Unlock()
			continue
		}
		n := len(l.queue) - l.head
		over := l.halted || n >= maxRecs || (total >= budget && n > 0)
		under := !l.halted && n <= maxRecs/2 && (total <= budget/2 || n == 0)
		switch {
		case !l.paused && over:
			l.paused = true
			pause = append(pause, l.key())
		case l.paused && under:
			l.paused = false
			resume = append(resume, l.key())
		}
		l.mu.Unlock()
	}
	if p.testHookFlow != nil {
		p.testHookFlow(pause, resume)
	}
	if len(pause) > 0 {
		p.fetch.paused()
		p.pausedN.Add(int64(len(pause)))
		p.m.paused(len(pause))
		if p.cl != nil {
			p.cl.PauseFetchPartitions(partsByTopic(pause))
		}
	}
	if len(resume) > 0 {
		p.pausedN.Add(-int64(len(resume)))
		p.m.paused(-len(resume))
		if p.cl != nil {
			p.cl.ResumeFetchPartitions(partsByTopic(resume))
		}
	}
	return p.pausedN.Load() > 0 && p.bufBytes.Load() != total
}
