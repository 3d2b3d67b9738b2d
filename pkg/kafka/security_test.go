package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/tlstest"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// pki is a CA with the files a client configuration names.
type pki struct {
	ca                  *tlstest.CA
	server              *tlstest.Cert
	caFile              string
	clientCert, clientK string // a client certificate for alice
	expCert, expKey     string // an expired client certificate
	otherCA             string // a CA that signed nothing the brokers hold
}

func newPKI(t *testing.T) pki {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	p := pki{ca: ca, server: ca.Server(t), caFile: ca.WriteCA(t, dir)}
	p.clientCert, p.clientK = ca.Client(t, "alice").Write(t, dir, "alice")
	p.expCert, p.expKey = ca.Issue(t, tlstest.Options{CommonName: "alice",
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}).Write(t, dir, "expired")
	p.otherCA = tlstest.NewCA(t).WriteCA(t, t.TempDir())
	return p
}

// TestConnectSecure connects over every secure setting the embedded
// cluster supports and creates a topic, which needs the whole session.
func TestConnectSecure(t *testing.T) {
	p := newPKI(t)
	users := []kfake.Opt{kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "alice", "plain-secret"),
		kfake.Superuser("SCRAM-SHA-256", "alice", "scram256-secret"),
		kfake.Superuser("SCRAM-SHA-512", "alice", "scram512-secret")}
	tlsCluster := kafkatest.Fake(t, kfake.TLS(tlstest.ServerConfig(p.server, nil)))
	mtlsCluster := kafkatest.Fake(t, kfake.TLS(tlstest.ServerConfig(p.server, p.ca)))
	saslCluster := kafkatest.Fake(t, users...)
	saslTLSCluster := kafkatest.Fake(t, append(users, kfake.TLS(tlstest.ServerConfig(p.server, nil)))...)
	withTLS := kafka.TLSConfig{Enabled: true, CAFile: p.caFile}
	for _, tc := range []struct {
		name    string
		brokers []string
		tls     kafka.TLSConfig
		sasl    kafka.SASLConfig
	}{
		{"tls", tlsCluster.ListenAddrs(), withTLS, kafka.SASLConfig{}},
		{"tls-server-name", tlsCluster.ListenAddrs(), kafka.TLSConfig{Enabled: true, CAFile: p.caFile, ServerName: "localhost"}, kafka.SASLConfig{}},
		{"mtls", mtlsCluster.ListenAddrs(), kafka.TLSConfig{Enabled: true, CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientK}, kafka.SASLConfig{}},
		{"plain", saslCluster.ListenAddrs(), kafka.TLSConfig{}, kafka.SASLConfig{Mechanism: "plain", Username: "alice", Password: "plain-secret"}},
		{"scram-sha-256", saslCluster.ListenAddrs(), kafka.TLSConfig{}, kafka.SASLConfig{Mechanism: "scram-sha-256", Username: "alice", Password: "scram256-secret"}},
		{"scram-sha-512", saslCluster.ListenAddrs(), kafka.TLSConfig{}, kafka.SASLConfig{Mechanism: "scram-sha-512", Username: "alice", Password: "scram512-secret"}},
		{"plain-over-tls", saslTLSCluster.ListenAddrs(), withTLS, kafka.SASLConfig{Mechanism: "plain", Username: "alice", Password: "plain-secret"}},
		{"scram-sha-512-over-tls", saslTLSCluster.ListenAddrs(), withTLS, kafka.SASLConfig{Mechanism: "scram-sha-512", Username: "alice", Password: "scram512-secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafka.Config{Brokers: tc.brokers, ClientID: "secure", ConnectTimeout: 10 * time.Second, TLS: tc.tls, SASL: tc.sasl}
			cl, err := kafka.Connect(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			topic := kafkatest.Name(t, "t")
			if _, err := kafka.EnsureTopic(context.Background(), cl, kafka.TopicConfig{Partitions: 2, ReplicationFactor: -1, Create: true}, topic); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConnectBadInput is the bad-input table of docs/security.md: each
// mistake ends Connect with one line that names the broker and says what
// is wrong; none waits out the connect timeout except a TLS hello a
// plaintext listener never answers.
func TestConnectBadInput(t *testing.T) {
	p := newPKI(t)
	saslCluster := kafkatest.Fake(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "alice", "plain-secret"),
		kfake.Superuser("SCRAM-SHA-256", "alice", "scram256-secret"),
		kfake.Superuser("SCRAM-SHA-512", "alice", "scram512-secret"),
		kfake.TLS(tlstest.ServerConfig(p.server, nil)))
	mtlsCluster := kafkatest.Fake(t, kfake.TLS(tlstest.ServerConfig(p.server, p.ca)))
	plainCluster := kafkatest.Fake(t)
	saslAt := saslCluster.ListenAddrs()[0]
	mtlsAt := mtlsCluster.ListenAddrs()[0]
	plainAt := plainCluster.ListenAddrs()[0]
	withTLS := kafka.TLSConfig{Enabled: true, CAFile: p.caFile}
	scram := func(mech, user, pass string) kafka.SASLConfig {
		return kafka.SASLConfig{Mechanism: mech, Username: user, Password: pass}
	}
	const timeout = 5 * time.Second
	for _, tc := range []struct {
		name    string
		broker  string
		tls     kafka.TLSConfig
		sasl    kafka.SASLConfig
		want    []string // substrings of the message
		waits   bool     // ends at the connect timeout
		errType any
	}{
		{"wrong-password-plain", saslAt, withTLS, scram("plain", "alice", "wrong"),
			[]string{"authentication failed at broker " + saslAt, `SASL PLAIN as user "alice"`}, false, &kafka.AuthError{}},
		{"wrong-password-scram-sha-256", saslAt, withTLS, scram("scram-sha-256", "alice", "wrong"),
			[]string{"authentication failed at broker " + saslAt, `SASL SCRAM-SHA-256 as user "alice"`}, false, &kafka.AuthError{}},
		{"wrong-password-scram-sha-512", saslAt, withTLS, scram("scram-sha-512", "alice", "wrong"),
			[]string{"authentication failed at broker " + saslAt, `SASL SCRAM-SHA-512 as user "alice"`}, false, &kafka.AuthError{}},
		{"unknown-user", saslAt, withTLS, scram("scram-sha-256", "mallory", "scram256-secret"),
			[]string{"authentication failed at broker " + saslAt, `SASL SCRAM-SHA-256 as user "mallory"`}, false, &kafka.AuthError{}},
		{"sasl-missing", saslAt, withTLS, kafka.SASLConfig{},
			[]string{"authentication failed at broker " + saslAt, "kafka.sasl.mechanism=none"}, false, &kafka.AuthError{}},
		{"untrusted-server-certificate", saslAt, kafka.TLSConfig{Enabled: true, CAFile: p.otherCA}, scram("plain", "alice", "plain-secret"),
			[]string{"TLS with broker " + saslAt + " failed", "not signed by a CA this client trusts", "kafka.tls.ca_file"}, false, &kafka.TLSError{}},
		{"wrong-server-name", saslAt, kafka.TLSConfig{Enabled: true, CAFile: p.caFile, ServerName: "kafka.example.com"}, scram("plain", "alice", "plain-secret"),
			[]string{"TLS with broker " + saslAt + " failed", "kafka.tls.server_name", "not kafka.example.com"}, false, &kafka.TLSError{}},
		{"client-certificate-missing", mtlsAt, withTLS, kafka.SASLConfig{},
			[]string{"TLS with broker " + mtlsAt + " failed", "requires a client certificate"}, false, &kafka.TLSError{}},
		{"client-certificate-expired", mtlsAt, kafka.TLSConfig{Enabled: true, CAFile: p.caFile, CertFile: p.expCert, KeyFile: p.expKey}, kafka.SASLConfig{},
			[]string{"TLS with broker " + mtlsAt + " failed", "expired", "kafka.tls.cert_file"}, false, &kafka.TLSError{}},
		{"plaintext-against-tls-port", mtlsAt, kafka.TLSConfig{}, kafka.SASLConfig{},
			[]string{"TLS with broker " + mtlsAt + " failed", "looks like a TLS listener", "kafka.tls.enabled=true"}, false, &kafka.TLSError{}},
		{"tls-against-plaintext-port", plainAt, withTLS, kafka.SASLConfig{},
			[]string{"no broker answered at " + plainAt, "no TLS handshake was answered", "kafka.tls.enabled=false"}, true, &kafka.UnreachableError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafka.Config{Brokers: []string{tc.broker}, ClientID: "bad", ConnectTimeout: timeout, TLS: tc.tls, SASL: tc.sasl}
			if tc.waits {
				cfg.ConnectTimeout = 2 * time.Second // waited out in full: keep it short
			}
			checkBadInput(t, cfg, tc.want, tc.waits, tc.errType)
		})
	}
}

// TestConnectBadInputRealBroker: the rows of the table the real broker's
// plaintext listener can show.
func TestConnectBadInputRealBroker(t *testing.T) {
	brokers := kafkatest.Real(t)
	p := newPKI(t)
	at := brokers[0]
	cfg := kafka.Config{Brokers: brokers[:1], ClientID: "bad", ConnectTimeout: 5 * time.Second}
	t.Run("tls-against-plaintext-port", func(t *testing.T) {
		c := cfg
		c.TLS = kafka.TLSConfig{Enabled: true, CAFile: p.caFile}
		checkBadInput(t, c, []string{"TLS with broker " + at + " failed", "looks like a plaintext listener", "kafka.tls.enabled=false"}, false, &kafka.TLSError{})
	})
	t.Run("sasl-against-plaintext-listener", func(t *testing.T) {
		c := cfg
		c.SASL = kafka.SASLConfig{Mechanism: "scram-sha-512", Username: "alice", Password: "secret"}
		checkBadInput(t, c, []string{"authentication failed at broker " + at, `SASL SCRAM-SHA-512 as user "alice"`}, false, &kafka.AuthError{})
	})
}

func checkBadInput(t *testing.T, cfg kafka.Config, want []string, waits bool, errType any) {
	t.Helper()
	start := time.Now()
	cl, err := kafka.Connect(context.Background(), cfg)
	took := time.Since(start)
	if err == nil {
		cl.Close()
		t.Fatal("connected")
	}
	t.Logf("after %s: %v", took.Round(time.Millisecond), err)
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q: %s", w, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("message shows a password: %s", msg)
	}
	switch e := errType.(type) {
	case *kafka.AuthError:
		if !errors.As(err, &e) {
			t.Errorf("want an *AuthError, got %T", err)
		}
	case *kafka.TLSError:
		if !errors.As(err, &e) {
			t.Errorf("want a *TLSError, got %T", err)
		}
	case *kafka.UnreachableError:
		if !errors.As(err, &e) {
			t.Errorf("want an *UnreachableError, got %T", err)
		}
	case *kafka.TokenError:
		if !errors.As(err, &e) {
			t.Errorf("want a *TokenError, got %T", err)
		}
	}
	if !waits && took > cfg.ConnectTimeout/2 {
		t.Errorf("took %s: an answer waiting cannot change must end Connect at once", took)
	}
	if took > cfg.ConnectTimeout+2*time.Second {
		t.Errorf("took %s, beyond kafka.connect_timeout %s", took, cfg.ConnectTimeout)
	}
}

// TestOAuthTokenReread: the OAUTHBEARER token is read at every
// authentication, so a token rotated on disk is used by the next
// connection (the embedded cluster has no OAUTHBEARER; the mechanism's
// first message carries the token).
func TestOAuthTokenReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("token-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mech, err := kafka.SASLConfig{Mechanism: "oauthbearer", OAuth: kafka.OAuthConfig{TokenFile: path}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	first := func() string {
		_, msg, err := mech.Authenticate(context.Background(), "127.0.0.1:9092")
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	if m := first(); !strings.Contains(m, "auth=Bearer token-one\x01") {
		t.Fatalf("first message %q lacks the token", m)
	}
	if err := os.WriteFile(path, []byte("token-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if m := first(); !strings.Contains(m, "auth=Bearer token-two\x01") {
		t.Fatalf("after rotation, first message %q lacks the new token", m)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mech.Authenticate(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty token file: %v", err)
	}
}

// TestOptionsFileErrors: files that cannot be used fail Options, naming
// them.
func TestOptionsFileErrors(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name string
		cfg  kafka.Config
		want string
	}{
		{"ca-missing", kafka.Config{TLS: kafka.TLSConfig{Enabled: true, CAFile: missing}}, "missing.pem"},
		{"ca-not-pem", kafka.Config{TLS: kafka.TLSConfig{Enabled: true, CAFile: notPEM}}, "holds no PEM certificate"},
		{"cert-without-key", kafka.Config{TLS: kafka.TLSConfig{Enabled: true, CertFile: p.clientCert}}, "needs its private key"},
		{"key-without-cert", kafka.Config{TLS: kafka.TLSConfig{Enabled: true, KeyFile: p.clientK}}, "needs its certificate"},
		{"key-not-matching", kafka.Config{TLS: kafka.TLSConfig{Enabled: true, CertFile: p.clientCert, KeyFile: p.expKey}}, "does not match"},
		{"no-password", kafka.Config{SASL: kafka.SASLConfig{Mechanism: "scram-sha-256", Username: "alice"}}, "needs a username and a password"},
		{"token-missing", kafka.Config{SASL: kafka.SASLConfig{Mechanism: "oauthbearer", OAuth: kafka.OAuthConfig{TokenFile: missing}}}, "missing.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.Options(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
		})
	}
}

// TestOAuthExtensions: kafka.sasl.oauth.extensions travel in the
// OAUTHBEARER first message (RFC 7628: "\x01key=value", sorted by key),
// malformed ones are refused before any connection, and the real secure
// broker accepts a connection that sends them.
func TestOAuthExtensions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("tok"), 0o600); err != nil {
		t.Fatal(err)
	}
	ext := []string{"logicalCluster=lkc-1", "identityPoolId=pool-2"}
	mech, err := kafka.SASLConfig{Mechanism: "oauthbearer", OAuth: kafka.OAuthConfig{TokenFile: path, Extensions: ext}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, msg, err := mech.Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	if want := "auth=Bearer tok\x01identityPoolId=pool-2\x01logicalCluster=lkc-1\x01\x01"; !strings.HasSuffix(string(msg), want) {
		t.Fatalf("first message %q, want it to end %q", msg, want)
	}
	for _, bad := range []string{"noequals", "bad-key=x", "auth=x", "k=", "k=caf\u00e9", "k=a\x01b"} {
		_, err := kafka.SASLConfig{Mechanism: "oauthbearer", OAuth: kafka.OAuthConfig{TokenFile: path, Extensions: []string{bad}}}.Build()
		if err == nil || !strings.Contains(err.Error(), strconvQuote(bad)) {
			t.Errorf("extension %q: Build() = %v, want an error naming it", bad, err)
		}
	}
	if _, err := kafka.ParseExtensions([]string{"a=1", "a=2"}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("a key twice: %v", err)
	}

	s := kafkatest.Secure(t)
	tok := filepath.Join(t.TempDir(), "jwt")
	if err := os.WriteFile(tok, []byte(kafkatest.UnsecuredJWT(s.User, time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := kafka.Config{Brokers: s.SASLSSL, ClientID: "oauth-ext", ConnectTimeout: 10 * time.Second,
		TLS:  kafka.TLSConfig{Enabled: true, CAFile: s.CAFile},
		SASL: kafka.SASLConfig{Mechanism: "oauthbearer", OAuth: kafka.OAuthConfig{TokenFile: tok, Extensions: ext}}}
	cl, err := kafka.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connecting with extensions: %v", err)
	}
	cl.Close()
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }
