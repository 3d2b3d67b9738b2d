package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ConnectSession is Connect for a transactional consumer-group member: it
// creates a kgo.GroupTransactSession (opts must name a group and a
// transactional id) with the shared options, and waits, at most
// cfg.ConnectTimeout, until a broker answers.
func ConnectSession(ctx context.Context, cfg Config, opts ...kgo.Opt) (*kgo.GroupTransactSession, error) {
	return connect(ctx, cfg, opts, "transactional client", kgo.NewGroupTransactSession,
		(*kgo.GroupTransactSession).Client)
}
