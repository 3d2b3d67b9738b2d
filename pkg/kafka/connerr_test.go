package kafka

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestClassify covers the answers the embedded cluster cannot give: a
// real broker refuses credentials with SASL_AUTHENTICATION_FAILED (the
// embedded one closes the connection), and a broker that goes away is not
// taken for a refusal.
func TestClassify(t *testing.T) {
	cfg := Config{Brokers: []string{"b1:9096", "b2:9096"},
		SASL: SASLConfig{Mechanism: MechanismScramSHA512, Username: "alice", Password: "pw"}}
	refused := fmt.Errorf("%w: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512", kerr.SaslAuthenticationFailed)
	h := new(connHook)
	h.saslBroker = "b2:9096"
	err := classify(refused, cfg, h)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Broker != "b2:9096" {
		t.Fatalf("want an AuthError at b2:9096, got %v", err)
	}
	want := `authentication failed at broker b2:9096 with SASL SCRAM-SHA-512 as user "alice": SASL_AUTHENTICATION_FAILED`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message\n  %s\nwant\n  %s", err, want)
	}
	if err := classify(refused, cfg, nil); err == nil || !errors.As(err, &ae) || ae.Broker != "b1:9096,b2:9096" {
		t.Errorf("without a hook the seeds are named: %v", err)
	}
	// A connection closed with no SASL request failing is a broker that
	// went away: waited for, not a refusal.
	if err := classify(io.EOF, cfg, new(connHook)); err != nil {
		t.Errorf("EOF without a failed SASL read: %v, want nil", err)
	}
	if err := classify(errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), cfg, new(connHook)); err != nil {
		t.Errorf("connection refused: %v, want nil", err)
	}
}
