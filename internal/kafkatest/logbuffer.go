package kafkatest

import (
	"bytes"
	"sync"
)

// LogBuffer collects what a test's logger writes from several goroutines
// (a processor's lanes, poll loop and callbacks) and returns it whole.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
