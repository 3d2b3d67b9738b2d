package doctor

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/pipeline"
)

// inputs returns the input topics doctor judges: topic.name or
// topic.names; with topic.pattern, the topics it matched when the cluster
// was inspected (none without a cluster).
func inputs(in Input) []string {
	t := in.Config.Topic
	if t.Pattern == "" {
		return t.Inputs()
	}
	if in.Cluster == nil {
		return nil
	}
	return in.Cluster.Inputs
}

// topics returns every topic doctor inspects: pipeline.Topics, and with
// topic.pattern the matched inputs and the topics named after them.
func topics(in Input) []string {
	ts := pipeline.Topics(in.Config)
	if in.Config.Topic.Pattern == "" {
		return ts
	}
	for _, name := range inputs(in) {
		for _, t := range append([]string{name}, pipeline.NamedAfter(in.Config, name)...) {
			if !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// InspectConfig inspects, through cl, every topic the configuration c
// uses: pipeline.Topics, and with topic.pattern the cluster's topics it
// matches now (listed, then recorded in Cluster.Inputs) with the topics
// named after them.
func InspectConfig(ctx context.Context, cl *kgo.Client, c config.Config) (*Cluster, error) {
	in := Input{Config: c, Cluster: &Cluster{}}
	if c.Topic.Pattern != "" {
		listed, err := kadm.NewClient(cl).ListTopics(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing topics to match topic.pattern: %w", err)
		}
		in.Cluster.Inputs = pipeline.MatchTopics(c, listed.Names())
	}
	cluster, err := Inspect(ctx, cl, topics(in))
	if err != nil {
		return nil, err
	}
	cluster.Inputs = in.Cluster.Inputs
	return cluster, nil
}
