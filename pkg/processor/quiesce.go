package processor

import "sync"

// quiesce holds the lanes between two handler calls while an exactly_once
// transaction ends: End must not run while a handler produces, but it need
// not wait for everything fetched. Waiting for that held the poll loop —
// and with it every rebalance — for as long as the lanes took to handle a
// whole poll: at least one producer batch per partition, whatever the
// fetch sizes say (a 1 MB batch of small records is thousands of handler
// calls' worth), so a member with a slow handler outlived
// processor.group.rebalance_timeout at every rebalance and was thrown out
// of the group again and again. Held, a lane finishes the call it is in
// and waits; the transaction commits each partition up to what its lane
// finished, and the rest stays queued for the next one.
type quiesce struct {
	mu    sync.Mutex
	held  chan struct{} // non-nil while held; closed by release
	busy  int           // handler calls running
	calls int           // handler calls started since the last release
}

// enter is called by a lane before a handler call; it waits while the
// lanes are held, and returns false, without entering, when stop closes
// first.
func (q *quiesce) enter(stop <-chan struct{}) bool {
	for {
		q.mu.Lock()
		h := q.held
		if h == nil {
			q.busy++
			q.calls++
			q.mu.Unlock()
			return true
		}
		q.mu.Unlock()
		select {
		case <-h:
		case <-stop:
			return false
		}
	}
}

// leave is called by a lane after a handler call (and its completion).
func (q *quiesce) leave() {
	q.mu.Lock()
	q.busy--
	q.mu.Unlock()
}

// hold stops lanes from starting handler calls until release.
func (q *quiesce) hold() {
	q.mu.Lock()
	if q.held == nil {
		q.held = make(chan struct{})
	}
	q.mu.Unlock()
}

// idle reports whether no handler call is running.
func (q *quiesce) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.busy == 0
}

// worked reports whether a handler call started since the last release
// (the transaction's begin): one that did not may have nothing to commit.
func (q *quiesce) worked() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls > 0
}

// release lets the held lanes go on, and starts counting calls afresh.
func (q *quiesce) release() {
	q.mu.Lock()
	if q.held != nil {
		close(q.held)
		q.held = nil
	}
	q.calls = 0
	q.mu.Unlock()
}
