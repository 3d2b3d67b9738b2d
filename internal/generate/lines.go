package generate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/event"
)

// ErrNoInput is returned by Lines.Run when the input held no lines.
var ErrNoInput = errors.New("the input held no lines; nothing was produced")

// MaxLineBytes is the longest line Lines accepts.
const MaxLineBytes = 16 << 20

// Lines writes each line of a reader as one event value, stamped with the
// producer id and the line's sequence number.
type Lines struct {
	s  *sender
	id string
}

// NewLines returns a line producer writing to topic through cl, stamping
// its events with cfg.ID; the rest of cfg is the generator's.
func NewLines(cl *kgo.Client, topic string, cfg Config, opts Options) *Lines {
	id := cfg.ID
	if id == "" {
		id = DefaultID()
	}
	return &Lines{s: newSender(cl, topic, opts), id: id}
}

// Stats are the live counts; safe to read while Run is in progress.
func (l *Lines) Stats() *Stats { return l.s.stats }

// Run produces every line of r until EOF or ctx is cancelled, then waits
// for outstanding acknowledgements. Empty input returns ErrNoInput.
//
// Cancelling ctx ends Run even while r blocks (an idle stdin pipe): the
// read in progress is abandoned, and its goroutine ends when r returns.
func (l *Lines) Run(ctx context.Context, r io.Reader) (Result, error) {
	l.s.stats.started = time.Now()
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
		defer close(lines)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-stop:
				return
			}
		}
		readErr <- sc.Err()
	}()
	var seq uint64
	var err error
read:
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			break read
		case v, ok := <-lines:
			if !ok {
				err = <-readErr
				break read
			}
			rec := &kgo.Record{Topic: l.s.topic, Value: v}
			event.Stamp(rec, event.ID{Producer: l.id, Seq: seq})
			l.s.send(rec, l.s.done)
			seq++
		}
	}
	ferr := l.s.finish()
	res := l.s.stats.Snapshot()
	if err != nil {
		return res, fmt.Errorf("reading line %d: %w", seq+1, err)
	}
	if ferr != nil {
		return res, ferr
	}
	if seq == 0 && ctx.Err() == nil {
		return res, ErrNoInput
	}
	return res, nil
}
