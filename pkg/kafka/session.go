package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ConnectSession is Connect for a transactional consumer-group member: it
// creates a kgo.GroupTransactSession (opts must name a group and a
// transactional id) with the shared options, and waits, at most
// cfg.ConnectTimeout, until a broker answers.
func ConnectSession(ctx context.Context, cfg Config, opts ...kgo.Opt) (*kgo.GroupTransactSession, error) {
	if len(cfg.Brokers) == 0 {
		return nil, ErrNoBrokers
	}
	h := new(connHook)
	shared, err := options(cfg, h)
	if err != nil {
		return nil, err
	}
	s, err := kgo.NewGroupTransactSession(append(append(shared, kgo.WithHooks(h)), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating transactional client: %w", err)
	}
	if err := ping(ctx, s.Client(), cfg, h); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
