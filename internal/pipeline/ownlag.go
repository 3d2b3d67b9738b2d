package pipeline

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/pkg/lag"
)

// StartOwnLag starts the lag monitor of the pipeline's own group
// (processor.group.id, and no other: lag.groups is ignored) on the
// pipeline's client. It counts partitions with no commit from
// processor.start_offset, where the group would start, polls every
// lag.interval, and registers its collector on reg, so its series appear on
// the same /metrics as the engine's. The returned stop cancels the monitor
// and waits for it; call it before Close.
func (p *Pipeline) StartOwnLag(ctx context.Context, reg prometheus.Registerer) (stop func(), err error) {
	lc := p.c.Lag
	lc.Groups = "" // only the named group
	lc.Reset = p.c.Processor.StartOffset
	mon, err := lag.New(p.cl, lc, lag.Options{Groups: []string{p.c.Processor.Group.ID}, Registerer: reg, Logger: p.opts.Logger})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mon.Run(ctx) // returns nil once ctx ends; failed polls are logged
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
