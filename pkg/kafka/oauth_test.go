package kafka_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/pkg/kafka"
)

const (
	oauthClient = "veltrix-pipeline"
	oauthSecret = "oauth-Secret-9001"
)

// bearer runs the mechanism's first step, as franz-go does for every
// connection, and returns the token its first message carries.
func bearer(t *testing.T, mech sasl.Mechanism) (string, error) {
	t.Helper()
	_, msg, err := mech.Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		return "", err
	}
	_, rest, ok := strings.Cut(string(msg), "auth=Bearer ")
	if !ok {
		t.Fatalf("first message %q holds no bearer token", msg)
	}
	return strings.TrimSuffix(rest, "\x01\x01"), nil
}

// TestOAuthClientCredentials: the token is fetched from the endpoint with
// the client's credentials and scopes, and then cached: many
// authentications, concurrent ones too, ask the endpoint once.
func TestOAuthClientCredentials(t *testing.T) {
	ts := kafkatest.NewTokenServer(t, oauthClient, oauthSecret, "alice", time.Hour)
	o := kafka.OAuthConfig{TokenURL: ts.URL, ClientID: oauthClient, ClientSecret: oauthSecret, Scopes: []string{"kafka.read", "kafka.write"}}
	mech := kafka.TokenMechanism(o, ts.Client, time.Minute)
	first, err := bearer(t, mech)
	if err != nil {
		t.Fatal(err)
	}
	if want := kafkatest.UnsecuredJWT("alice", time.Hour); strings.Count(first, ".") != 2 || first[:20] != want[:20] {
		t.Fatalf("token %q is not the endpoint's JWT", first)
	}
	if got := ts.Scope(); got != "kafka.read kafka.write" {
		t.Errorf("scope %q, want the scopes space-separated", got)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if tok, err := bearer(t, mech); err != nil || tok != first {
				t.Errorf("token %q, %v: want the cached one", tok, err)
			}
		})
	}
	wg.Wait()
	if n := ts.Issued(); n != 1 {
		t.Errorf("the endpoint issued %d tokens for 21 authentications within a token's lifetime, want 1", n)
	}
}

// TestOAuthTokenRefreshed: a token is fetched anew once it nears its
// expiry (here, with no early margin to speak of, once it expires), and
// only then. (An early margin of 0 is oauth2's default of 10s.)
func TestOAuthTokenRefreshed(t *testing.T) {
	ts := kafkatest.NewTokenServer(t, oauthClient, oauthSecret, "alice", time.Second)
	mech := kafka.TokenMechanism(kafka.OAuthConfig{TokenURL: ts.URL, ClientID: oauthClient, ClientSecret: oauthSecret}, ts.Client, time.Nanosecond)
	calls := 0
	kafkatest.Eventually(t, 10*time.Second, "a second token after the first expired", func() bool {
		if _, err := bearer(t, mech); err != nil {
			t.Fatal(err)
		}
		calls++
		return ts.Issued() == 2
	})
	if calls < 3 {
		t.Errorf("%d authentications for 2 tokens: the first token was not reused while valid", calls)
	}
	t.Logf("%d authentications, %d tokens issued", calls, ts.Issued())

	// A token with a minute to live and an early margin of a minute is
	// due at once: every authentication fetches.
	ts = kafkatest.NewTokenServer(t, oauthClient, oauthSecret, "alice", time.Minute)
	mech = kafka.TokenMechanism(kafka.OAuthConfig{TokenURL: ts.URL, ClientID: oauthClient, ClientSecret: oauthSecret}, ts.Client, time.Minute)
	for range 3 {
		if _, err := bearer(t, mech); err != nil {
			t.Fatal(err)
		}
	}
	if n := ts.Issued(); n != 3 {
		t.Errorf("issued %d, want 3: a token within the early margin must not be reused", n)
	}
}

// TestOAuthTokenErrors: a refused credential, an untrusted endpoint and
// an endpoint that does not answer are each a one-line *TokenError
// naming the endpoint and the client, never the secret; the first two
// end Connect at once, the last is waited for.
func TestOAuthTokenErrors(t *testing.T) {
	ts := kafkatest.NewTokenServer(t, oauthClient, oauthSecret, "alice", time.Hour)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String() + "/token"
	_ = ln.Close() // a port nothing listens on
	wrong := "wrong-" + oauthSecret
	for _, tc := range []struct {
		name   string
		url    string
		id     string
		client *http.Client
		final  bool
		want   string
	}{
		{"wrong-secret", ts.URL, oauthClient, ts.Client, true,
			`fetching an OAUTHBEARER token from ` + ts.URL + ` as client "` + oauthClient + `" failed: the endpoint refused the client credentials (HTTP 401 Unauthorized, invalid_client: Invalid client or Invalid client credentials); check kafka.sasl.oauth.client_id and kafka.sasl.oauth.client_secret`},
		{"unknown-client", ts.URL, "mallory", ts.Client, true, `as client "mallory" failed: the endpoint refused the client credentials`},
		{"untrusted-endpoint", ts.URL, oauthClient, &http.Client{Timeout: 5 * time.Second}, true,
			"failed: its certificate is not signed by a CA this machine trusts; add the CA to the system's roots or point SSL_CERT_FILE at a PEM file holding it"},
		{"no-answer", closed, oauthClient, ts.Client, false, "failed: the endpoint did not answer: dial tcp " + ln.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mech := kafka.TokenMechanism(kafka.OAuthConfig{TokenURL: tc.url, ClientID: tc.id, ClientSecret: wrong}, tc.client, time.Minute)
			_, err := bearer(t, mech)
			var te *kafka.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("want a *TokenError, got %T %v", err, err)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("message\n  %s\nlacks\n  %s", msg, tc.want)
			}
			if strings.Contains(msg, oauthSecret) || strings.Contains(msg, "\n") {
				t.Errorf("want one line without the secret: %q", msg)
			}
			if te.Final != tc.final {
				t.Errorf("Final %v, want %v", te.Final, tc.final)
			}
			// What Ping does with it: returned at once when final.
			cfg := kafka.Config{Brokers: []string{"b:9092"}, SASL: kafka.SASLConfig{Mechanism: "oauthbearer"}}
			if got := kafka.Classify(err, cfg); (got != nil) != tc.final {
				t.Errorf("classify: %v, want an error: %v", got, tc.final)
			}
		})
	}
}

// TestOAuthBuild: Build picks the token endpoint when it is set, and
// refuses what cannot work.
func TestOAuthBuild(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    kafka.OAuthConfig
		want string // "" for a mechanism
	}{
		{"endpoint", kafka.OAuthConfig{TokenURL: "https://idp/token", ClientID: "a", ClientSecret: "b"}, ""},
		{"no-source", kafka.OAuthConfig{}, "needs a token file (kafka.sasl.oauth.token_file) or a token endpoint (kafka.sasl.oauth.token_url)"},
		{"both", kafka.OAuthConfig{TokenFile: "/t", TokenURL: "https://idp/token", ClientID: "a", ClientSecret: "b"}, "not both"},
		{"no-secret", kafka.OAuthConfig{TokenURL: "https://idp/token", ClientID: "a"}, "needs a client id and a client secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mech, err := kafka.SASLConfig{Mechanism: "oauthbearer", OAuth: tc.o}.Build()
			if tc.want == "" {
				if err != nil || mech == nil || mech.Name() != "OAUTHBEARER" {
					t.Fatalf("%v, %v", mech, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

// TestConnectTokenEndpointRealBroker: through Connect against the real
// secure broker, a token endpoint that does not answer is named after
// kafka.connect_timeout (not "no broker answered": the broker is fine),
// and one whose certificate is not trusted at once.
func TestConnectTokenEndpointRealBroker(t *testing.T) {
	s := kafkatest.Secure(t)
	ts := kafkatest.NewTokenServer(t, oauthClient, oauthSecret, s.User, time.Hour)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String() + "/token"
	_ = ln.Close() // a port nothing listens on
	for _, tc := range []struct {
		name  string
		url   string
		waits bool
		want  string
	}{
		{"no-answer", closed, true, `fetching an OAUTHBEARER token from ` + closed + ` as client "` + oauthClient + `" failed: the endpoint did not answer: dial tcp ` + ln.Addr().String()},
		{"untrusted", ts.URL, false, `fetching an OAUTHBEARER token from ` + ts.URL + ` as client "` + oauthClient + `" failed: its certificate is not signed by a CA this machine trusts`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafka.Config{Brokers: s.SASLSSL, ClientID: "oauth", ConnectTimeout: 3 * time.Second,
				TLS: kafka.TLSConfig{Enabled: true, CAFile: s.CAFile},
				SASL: kafka.SASLConfig{Mechanism: "oauthbearer", OAuth: kafka.OAuthConfig{
					TokenURL: tc.url, ClientID: oauthClient, ClientSecret: oauthSecret}}}
			checkBadInput(t, cfg, []string{tc.want}, tc.waits, &kafka.TokenError{})
		})
	}
}
