package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/processor"
)

// ErrNotJSON fails a record whose value is not valid JSON when forward
// requires JSON.
var ErrNotJSON = errors.New("value is not valid JSON")

// Forward writes every record to an output topic, keeping its key, headers
// and timestamp (the source's event time, so readers of the output can
// measure latency from it), and waits for the brokers' acknowledgement
// before returning, so the engine commits only records that were written.
// Records that fail (not JSON when required, too large for the topic, not
// written within the delivery timeout, ...) are reported one by one with
// processor.RecordErrors; the rest of the batch succeeds.
//
// The delivery timeout counts from the Handle call, not from the records'
// timestamps, so a backlog of any age can be forwarded.
//
// Under processor.guarantee=exactly_once, Handle produces through the
// member's transactional client (processor.TransactClient) instead of its
// own, so the output commits with the input offsets.
type Forward struct {
	cl          *kgo.Client
	topic       string
	requireJSON bool
	timeout     time.Duration
}

var _ processor.Handler = (*Forward)(nil)

// NewForward returns a Forward producing to topic through cl, failing
// records not written within deliveryTimeout of the Handle call that
// forwards them (0: only the call's context bounds them).
//
// cl must have no record delivery timeout (kgo.RecordDeliveryTimeout; build
// it with producer.ForwardClientOptions): franz-go counts that timeout from
// each record's timestamp, which forward keeps from the source, so after a
// consumer outage longer than the timeout every forwarded record would fail
// before it was sent. NewForward returns an error for such a client.
func NewForward(cl *kgo.Client, topic string, cfg ForwardConfig, deliveryTimeout time.Duration) (*Forward, error) {
	if d, _ := cl.OptValue(kgo.RecordDeliveryTimeout).(time.Duration); d != 0 {
		return nil, fmt.Errorf("forward handler: its producer client has a record delivery timeout (%s), which franz-go counts from the source timestamps forward keeps; build the client with producer.ForwardClientOptions", d)
	}
	return &Forward{cl: cl, topic: topic, requireJSON: cfg.RequireJSON, timeout: deliveryTimeout}, nil
}

// Handle forwards the batch.
func (f *Forward) Handle(ctx context.Context, b *processor.Batch) error {
	if f.timeout > 0 {
		// franz-go fails buffered records whose context is done, as it
		// does for its own record timeout: at the same points, and, with
		// idempotent writes, not while a request holding them awaits its
		// answer. Every record of this call is answered before Handle
		// returns, so the cancel fails no record.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	cl := f.cl
	if tc := processor.TransactClient(ctx); tc != nil {
		// exactly_once: the writes join the member's transaction.
		cl = tc
	}
	var (
		errs processor.RecordErrors
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	topic := OutputTopic(f.topic, b.Topic)
	for i, r := range b.Records {
		if f.requireJSON && !json.Valid(r.Value) {
			errs.Add(i, ErrNotJSON)
			continue
		}
		out := &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
		wg.Add(1)
		cl.Produce(ctx, out, func(_ *kgo.Record, err error) {
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
