package processor_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/pkg/embedded"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/processor"
)

// Plugging a handler of your own into the engine: the processor joins the
// group, hands each partition's records to the handler in order and commits
// what the handler finished.
func Example() {
	cluster, _ := embedded.Start(embedded.Options{Topics: []string{"orders"}, Partitions: 3})
	defer cluster.Close()
	conn := kafka.Config{Brokers: cluster.Addrs(), ClientID: "example", ConnectTimeout: 10 * time.Second}

	cl, _ := kafka.Connect(context.Background(), conn)
	for i := range 10 {
		cl.ProduceSync(context.Background(), &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, "order %d", i)})
	}
	cl.Close()

	var handled atomic.Int64
	h := processor.HandlerFunc(func(ctx context.Context, b *processor.Batch) error {
		handled.Add(int64(len(b.Records)))
		return nil // or a *processor.RecordErrors naming the records that failed
	})
	cfg := processor.DefaultConfig()
	cfg.Group.ID = "billing"
	p, err := processor.New(conn, "orders", cfg, h, processor.Options{})
	if err != nil {
		panic(err) // a configuration Validate rejects
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	for handled.Load() < 10 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // graceful: finish in-flight batches, commit, leave the group
	fmt.Println("handled", handled.Load(), "records; shutdown error:", <-done)
	// Output: handled 10 records; shutdown error: <nil>
}
