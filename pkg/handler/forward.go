package handler

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/processor"
)

// ErrNotJSON fails a record whose value is not valid JSON when forward
// requires JSON.
var ErrNotJSON = errors.New("value is not valid JSON")

// Forward writes every record to an output topic, keeping its key, headers
// and timestamp, and waits for the brokers' acknowledgement before
// returning, so the engine commits only records that were written. Records
// that fail (not JSON when required, too large for the topic, ...) are
// reported one by one with processor.RecordErrors; the rest of the batch
// succeeds.
type Forward struct {
	cl          *kgo.Client
	topic       string
	requireJSON bool
}

var _ processor.Handler = (*Forward)(nil)

// NewForward returns a Forward producing to topic through cl.
func NewForward(cl *kgo.Client, topic string, cfg ForwardConfig) *Forward {
	return &Forward{cl: cl, topic: topic, requireJSON: cfg.RequireJSON}
}

// Handle forwards the batch.
func (f *Forward) Handle(ctx context.Context, b *processor.Batch) error {
	var (
		errs processor.RecordErrors
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for i, r := range b.Records {
		if f.requireJSON && !json.Valid(r.Value) {
			errs.Add(i, ErrNotJSON)
			continue
		}
		out := &kgo.Record{Topic: f.topic, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
		wg.Add(1)
		f.cl.Produce(ctx, out, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				errs.Add(i, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs.Err()
}
