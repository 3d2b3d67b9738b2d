package processor

// flow pauses fetching for partitions whose queue is full, or for all of
// them while the instance's buffered bytes exceed processor.buffer.max_bytes,
// and resumes them once they drained to half. Paused partitions keep their
// fetch position: franz-go drops paused buffered data without moving it, so
// nothing is skipped. Memory is therefore bounded by the budget plus one
// poll (at most processor.buffer.max_records records) taken when the pause
// began, plus the client's one buffered fetch response (processor.fetch.max_bytes
// on the wire, more once decompressed).
//
// It is called by the poll loop after each fetch and by lanes after taking
// a batch while anything is paused.
func (p *Processor) flow() {
	if p.cl == nil {
		return
	}
	p.flowMu.Lock()
	defer p.flowMu.Unlock()
	maxRecs, budget := p.cfg.Buffer.MaxRecords, p.cfg.Buffer.MaxBytes
	total := p.bufBytes.Load()
	var pause, resume []int32
	p.mu.Lock()
	for part, l := range p.lanes {
		if l.halted.Load() {
			continue // a halted partition stays paused
		}
		n, _ := l.size()
		l.mu.Lock()
		paused := l.paused
		l.mu.Unlock()
		switch {
		case !paused && (n >= maxRecs || total >= budget):
			if l.setPaused(true) {
				pause = append(pause, part)
			}
		case paused && n <= maxRecs/2 && total <= budget/2:
			if l.setPaused(false) {
				resume = append(resume, part)
			}
		}
	}
	p.mu.Unlock()
	if len(pause) > 0 {
		p.cl.PauseFetchPartitions(map[string][]int32{p.topic: pause})
		p.pausedN.Add(int64(len(pause)))
		p.m.paused(len(pause))
	}
	if len(resume) > 0 {
		p.cl.ResumeFetchPartitions(map[string][]int32{p.topic: resume})
		p.pausedN.Add(-int64(len(resume)))
		p.m.paused(-len(resume))
	}
}
