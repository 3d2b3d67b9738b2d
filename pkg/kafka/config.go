// Package kafka holds what every veltrix client shares: the connection
// settings, the client options built from them, the first-contact check that
// turns an unreachable cluster into a clear error, and topic creation.
package kafka

import (
	"strings"
	"time"
)

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
	// TLS encrypts the connections and verifies the brokers (Java:
	// security.protocol SSL or SASL_SSL).
	TLS TLSConfig `koanf:"tls"`
	// SASL authenticates the client to the brokers.
	SASL SASLConfig `koanf:"sasl"`
}

// TLSConfig is how veltrix speaks TLS to the brokers. Options reads the
// files it names each time it builds a client.
type TLSConfig struct {
	// Enabled dials every broker with TLS.
	Enabled bool `koanf:"enabled"`
	// CAFile is a PEM file of the certificates that sign the brokers'
	// certificates; "" trusts the system's roots.
	CAFile string `koanf:"ca_file"`
	// CertFile and KeyFile are the PEM client certificate and its private
	// key, for brokers that require mutual TLS; both or neither.
	CertFile string `koanf:"cert_file"`
	KeyFile  string `koanf:"key_file"`
	// ServerName is the name the brokers' certificates must hold; "" uses
	// the host of each broker's address.
	ServerName string `koanf:"server_name"`
	// InsecureSkipVerify accepts any broker certificate: the connection is
	// encrypted but anyone on the path can read and change it. Tests only.
	InsecureSkipVerify bool `koanf:"insecure_skip_verify"`
}

// SASL mechanisms, as kafka.sasl.mechanism spells them.
const (
	MechanismNone        = "none"
	MechanismPlain       = "plain"
	MechanismScramSHA256 = "scram-sha-256"
	MechanismScramSHA512 = "scram-sha-512"
	MechanismOAuthBearer = "oauthbearer"
)

// SASLConfig is how veltrix authenticates to the brokers.
type SASLConfig struct {
	// Mechanism is none, plain, scram-sha-256, scram-sha-512 or
	// oauthbearer; "" is none.
	Mechanism string `koanf:"mechanism"`
	// Username and Password are the credentials of plain and scram-*.
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	// OAuth configures oauthbearer.
	OAuth OAuthConfig `koanf:"oauth"`
}

// OAuthConfig is where an OAUTHBEARER token comes from: a file
// (TokenFile) or an OAuth 2.0 token endpoint, by the client credentials
// grant (TokenURL); one of the two.
type OAuthConfig struct {
	// TokenFile holds the token (a JWT). It is read at every
	// authentication, so a token rotated on disk (a Kubernetes projected
	// service account token, say) is used by the next connection.
	TokenFile string `koanf:"token_file"`
	// TokenURL is the token endpoint of the identity provider. Tokens are
	// fetched from it with ClientID and ClientSecret (RFC 6749 section
	// 4.4), kept while they are valid and fetched anew shortly before
	// they expire. An https endpoint is verified against the system's
	// roots (SSL_CERT_FILE adds a private CA).
	TokenURL string `koanf:"token_url"`
	// ClientID and ClientSecret are the client's credentials at TokenURL.
	ClientID     string `koanf:"client_id"`
	ClientSecret string `koanf:"client_secret"`
	// Scopes are requested with every token; none leaves them to the
	// identity provider's defaults.
	Scopes []string `koanf:"scopes"`
	// Extensions are SASL extensions (RFC 7628) sent with every
	// authentication, each "key=value": Confluent Cloud wants
	// logicalCluster and identityPoolId. Keys are letters only and not
	// "auth"; values are printable ASCII.
	Extensions []string `koanf:"extensions"`
}

// TopicConfig describes the input topic and how veltrix creates topics.
type TopicConfig struct {
	// Name is the input topic, unless Names or Pattern is set.
	Name string `koanf:"name"`
	// Names are several input topics, instead of Name.
	Names []string `koanf:"names"`
	// Pattern is a regular expression matching whole topic names: the
	// input topics, instead of Name, found again every Refresh.
	Pattern string `koanf:"pattern"`
	// Refresh is how often Pattern is matched against the cluster again.
	Refresh time.Duration `koanf:"refresh"`
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
	return Config{ClientID: "veltrix", ConnectTimeout: 10 * time.Second, SASL: SASLConfig{Mechanism: MechanismNone}}
}

// DefaultTopicConfig returns the defaults: topic events, created when
// missing with 6 partitions and the broker's replication factor.
func DefaultTopicConfig() TopicConfig {
	return TopicConfig{Name: "events", Partitions: 6, ReplicationFactor: -1, Create: true, Refresh: 30 * time.Second}
}

// Inputs returns the named input topics: Names, else Name; none for a
// Pattern, whose topics only the cluster knows.
func (t TopicConfig) Inputs() []string {
	switch {
	case t.Pattern != "":
		return nil
	case len(t.Names) > 0:
		return t.Names
	}
	return []string{t.Name}
}

// Several reports whether Names or Pattern selects the input topics.
func (t TopicConfig) Several() bool { return len(t.Names) > 0 || t.Pattern != "" }

// Describe names the input topics for people: the topic, the names joined
// by commas, or "pattern" and the pattern.
func (t TopicConfig) Describe() string {
	switch {
	case t.Pattern != "":
		return "pattern " + t.Pattern
	case len(t.Names) > 0:
		return strings.Join(t.Names, ",")
	}
	return t.Name
}
