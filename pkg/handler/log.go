package handler

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/veltrix/veltrix/pkg/processor"
)

// Log prints one line per record: topic, partition, offset, key and value.
// It is safe for concurrent use; lines from different partitions never
// interleave mid-line.
type Log struct {
	mu  sync.Mutex
	out io.Writer
}

var _ processor.Handler = (*Log)(nil)

// NewLog returns a Log writing to out.
func NewLog(out io.Writer) *Log { return &Log{out: out} }

// Handle prints the batch. A write error fails the batch.
func (l *Log) Handle(_ context.Context, b *processor.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range b.Records {
		if _, err := fmt.Fprintf(l.out, "%s/%d@%d key=%q value=%q\n", r.Topic, r.Partition, r.Offset, r.Key, r.Value); err != nil {
			return fmt.Errorf("writing record %d: %w", r.Offset, err)
		}
	}
	return nil
}
