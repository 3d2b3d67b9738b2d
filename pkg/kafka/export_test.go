package kafka

import (
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
)

// TokenMechanism is OAUTHBEARER by client credentials as Build makes it,
// but asking the endpoint with client (one that trusts a test CA) and
// renewing tokens early before they expire: for the tests of package
// kafka_test, which can use internal/kafkatest's token server.
func TokenMechanism(o OAuthConfig, client *http.Client, early time.Duration) sasl.Mechanism {
	return clientCredentials(newTokenSource(o, client, early), nil, nil)
}

// Classify is classify without a connection hook.
func Classify(err error, cfg Config) error { return classify(err, cfg, nil) }
