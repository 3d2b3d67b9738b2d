package pipeline

import (
	"context"
	"fmt"
	"sync"

	"github.com/veltrix/veltrix/pkg/processor"
)

// Group is several members of the pipeline's consumer group in this
// process, each a Processor with a client of its own, as veltrix demo runs
// them. Ready and Settled are safe to call while Run runs.
type Group struct {
	members []*processor.Processor
}

// Group returns one member per idSuffix, all running h; member i's client
// id is kafka.client_id + idSuffixes[i]. Each client id must differ: the
// metrics hooks label client series by it.
func (p *Pipeline) Group(h processor.Handler, idSuffixes ...string) (*Group, error) {
	g := &Group{members: make([]*processor.Processor, len(idSuffixes))}
	for i, s := range idSuffixes {
		m, err := p.Processor(s, h)
		if err != nil {
			return nil, err
		}
		g.members[i] = m
	}
	return g, nil
}

// Members returns the group's processors, in the order of their suffixes.
func (g *Group) Members() []*processor.Processor { return g.members }

// Ready reports whether every member is ready (processor.Readiness).
func (g *Group) Ready() bool {
	for _, p := range g.members {
		if !p.Ready() {
			return false
		}
	}
	return true
}

// Readiness returns nil when every member is ready, else the first
// unready member's reason, naming it.
func (g *Group) Readiness() error {
	for i, p := range g.members {
		if err := p.Readiness(); err != nil {
			return fmt.Errorf("member %d: %w", i+1, err)
		}
	}
	return nil
}

// Live returns nil unless a member's engine is wedged, else the first
// wedged member's reason, naming it.
func (g *Group) Live() error {
	for i, p := range g.members {
		if err := p.Live(); err != nil {
			return fmt.Errorf("member %d: %w", i+1, err)
		}
	}
	return nil
}

// Settled reports whether every member has joined and owns at least one
// partition: the first rebalance is over and the partitions are spread.
// With more members than partitions it never becomes true.
func (g *Group) Settled() bool {
	for _, p := range g.members {
		if !p.Ready() || len(p.Assigned()) == 0 {
			return false
		}
	}
	return true
}

// Run runs every member until ctx is cancelled and returns once all have
// returned: nil after a clean shutdown, or the first member's error. A
// member that fails stops the others (each finishing its in-flight work and
// committing, as on cancellation), so Run reports the failure without
// waiting for ctx.
func (g *Group) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, p := range g.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				once.Do(func() {
					first = err
					cancel()
				})
			}
		}()
	}
	wg.Wait()
	return first
}
