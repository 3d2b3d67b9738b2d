// Package embedded runs an in-process Kafka-protocol cluster (franz-go's
// kfake) on loopback: the zero-set-up broker behind veltrix demo, veltrix
// broker and the fast tests. It has no replication and no quotas; reliability
// and performance claims are made against a real Apache Kafka broker.
package embedded

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Options shapes the embedded cluster.
type Options struct {
	// Port is the listening port on 127.0.0.1; 0 picks a free one.
	Port int
	// Topics are created at start with Partitions partitions each.
	Topics     []string
	Partitions int
	// DataDir keeps data across restarts; "" keeps it in memory.
	DataDir string
}

// Cluster is a running embedded cluster. Close stops it.
type Cluster struct {
	c *kfake.Cluster
}

// Start starts a one-broker cluster listening on 127.0.0.1.
func Start(opts Options) (*Cluster, error) {
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		// The shortest session timeout veltrix allows, so tests and demos
		// can use fast failure detection.
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if opts.Port != 0 {
		kopts = append(kopts, kfake.Ports(opts.Port))
	}
	if len(opts.Topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(int32(opts.Partitions), opts.Topics...))
	}
	if opts.Partitions > 0 {
		kopts = append(kopts, kfake.DefaultNumPartitions(opts.Partitions))
	}
	if opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded cluster on port %d: %w", opts.Port, err)
	}
	return &Cluster{c: c}, nil
}

// Addrs returns the bootstrap addresses, host:port.
func (c *Cluster) Addrs() []string { return c.c.ListenAddrs() }

// Close stops the cluster. It is safe to call more than once.
func (c *Cluster) Close() { c.c.Close() }
