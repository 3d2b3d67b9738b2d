// Package kafka holds what every veltrix client shares: the connection
// settings, the client options built from them, the first-contact check that
// turns an unreachable cluster into a clear error, and topic creation.
package kafka

import "time"

// Config is how veltrix reaches the cluster. Defaults and ranges are in
// the config package's schema (keys kafka.*).
type Config struct {
	// Brokers are the bootstrap addresses, host:port.
	Brokers []string `koanf:"brokers"`
	// ClientID is sent with every request (Java: client.id).
	ClientID string `koanf:"client_id"`
	// ConnectTimeout bounds the first contact with the cluster and the
	// dial of every connection.
	ConnectTimeout time.Duration `koanf:"connect_timeout"`
}

// TopicConfig describes the input topic and how veltrix creates topics.
type TopicConfig struct {
	// Name is the input topic.
	Name string `koanf:"name"`
	// Partitions is used when veltrix creates a topic.
	Partitions int `koanf:"partitions"`
	// ReplicationFactor is used when veltrix creates a topic; -1 takes the
	// broker default.
	ReplicationFactor int `koanf:"replication_factor"`
	// Create makes veltrix create missing topics instead of failing.
	Create bool `koanf:"create"`
}

// DefaultConfig returns the defaults: client id veltrix, 10s to reach the
// cluster. Brokers have no default.
func DefaultConfig() Config {
	return Config{ClientID: "veltrix", ConnectTimeout: 10 * time.Second}
}

// DefaultTopicConfig returns the defaults: topic events, created when
// missing with 6 partitions and the broker's replication factor.
func DefaultTopicConfig() TopicConfig {
	return TopicConfig{Name: "events", Partitions: 6, ReplicationFactor: -1, Create: true}
}
