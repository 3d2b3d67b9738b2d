package kafkatest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// EnvSecureBrokers names the variable holding the secure real broker's
// facts: the line `scripts/kafka.sh start-secure` prints, e.g.
//
//	sasl_ssl=127.0.0.1:19192;mtls=127.0.0.1:19194;certs=/tmp/veltrix-kafka-secure/certs;mechanisms=PLAIN,...;user=veltrix;password=...
//
// scripts/test.sh starts that broker beside the plaintext one and sets it.
const EnvSecureBrokers = "VELTRIX_TEST_SECURE_BROKERS"

// Mechanism names a way of connecting to the secure broker, as veltrix's
// kafka.sasl.mechanism spells it, plus MTLS for a client certificate.
const (
	Plain       = "plain"
	ScramSHA256 = "scram-sha-256"
	ScramSHA512 = "scram-sha-512"
	OAuthBearer = "oauthbearer"
	MTLS        = "mtls" // no SASL: the SSL listener that requires a client certificate
)

// SecureMechanisms are every way the secure broker lets a client in.
var SecureMechanisms = []string{Plain, ScramSHA256, ScramSHA512, OAuthBearer, MTLS}

// SecureCluster is the secure real broker: a SASL_SSL listener (PLAIN,
// SCRAM-SHA-256/512 and OAUTHBEARER with Kafka's unsecured JWT validator)
// and an SSL listener requiring a client certificate, both with a
// certificate signed by a test CA. Its secrets are test-only.
type SecureCluster struct {
	SASLSSL    []string // SASL_SSL bootstrap addresses
	MTLS       []string // SSL bootstrap addresses; a client certificate is required
	CAFile     string   // PEM CA that signed the broker's and the client's certificates
	CertFile   string   // PEM client certificate for MTLS
	KeyFile    string   // PEM private key of CertFile
	Mechanisms []string // SASL mechanisms enabled, as Kafka spells them (PLAIN, SCRAM-SHA-256, ...)
	User       string   // the PLAIN and SCRAM user
	Password   string   // its password
}

// Secure returns the secure real broker, or skips the test loudly when
// VELTRIX_TEST_SECURE_BROKERS is unset; in CI (CI=true) that is a failure.
func Secure(t testing.TB) SecureCluster {
	t.Helper()
	v := os.Getenv(EnvSecureBrokers)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: the secure-broker tests must run in CI (use scripts/test.sh)", EnvSecureBrokers)
		}
		t.Skipf("SKIPPING secure-broker test: %s is not set; run scripts/test.sh, or set it to what `scripts/kafka.sh start-secure` prints", EnvSecureBrokers)
	}
	s, err := ParseSecure(v)
	if err != nil {
		t.Fatalf("%s: %v", EnvSecureBrokers, err)
	}
	return s
}

// ParseSecure reads the facts line `scripts/kafka.sh start-secure` prints.
func ParseSecure(v string) (SecureCluster, error) {
	f := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(v), ";") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return SecureCluster{}, fmt.Errorf("field %q is not key=value", kv)
		}
		f[k] = val
	}
	for _, k := range []string{"sasl_ssl", "mtls", "certs", "mechanisms", "user", "password"} {
		if f[k] == "" {
			return SecureCluster{}, fmt.Errorf("no %s in %q", k, redact(v, f["password"]))
		}
	}
	return SecureCluster{
		SASLSSL:    strings.Split(f["sasl_ssl"], ","),
		MTLS:       strings.Split(f["mtls"], ","),
		CAFile:     filepath.Join(f["certs"], "ca.pem"),
		CertFile:   filepath.Join(f["certs"], "client.pem"),
		KeyFile:    filepath.Join(f["certs"], "client-key.pem"),
		Mechanisms: strings.Split(f["mechanisms"], ","),
		User:       f["user"],
		Password:   f["password"],
	}, nil
}

// redact hides the password in an error message: even a test secret
// should not be copied into logs needlessly.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// TLSConfig trusts the test CA and, with cert set, presents the client
// certificate.
func (s SecureCluster) TLSConfig(t testing.TB, cert bool) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatalf("reading the secure broker's CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("%s holds no PEM certificate", s.CAFile)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert {
		kp, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			t.Fatalf("loading the secure broker's client certificate: %v", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg
}

// ClientOpts are the franz-go options that connect to the secure broker
// by mechanism (one of SecureMechanisms) with password: the SASL_SSL
// listener with that SASL mechanism, or for MTLS the SSL listener with the
// client certificate (password unused). OAUTHBEARER sends an unsigned JWT
// for the user, which the broker's unsecured validator accepts.
func (s SecureCluster) ClientOpts(t testing.TB, mechanism, password string) []kgo.Opt {
	t.Helper()
	if mechanism == MTLS {
		return []kgo.Opt{kgo.SeedBrokers(s.MTLS...), kgo.DialTLSConfig(s.TLSConfig(t, true))}
	}
	opts := []kgo.Opt{kgo.SeedBrokers(s.SASLSSL...), kgo.DialTLSConfig(s.TLSConfig(t, false))}
	switch mechanism {
	case Plain:
		return append(opts, kgo.SASL(plain.Auth{User: s.User, Pass: password}.AsMechanism()))
	case ScramSHA256:
		return append(opts, kgo.SASL(scram.Auth{User: s.User, Pass: password}.AsSha256Mechanism()))
	case ScramSHA512:
		return append(opts, kgo.SASL(scram.Auth{User: s.User, Pass: password}.AsSha512Mechanism()))
	case OAuthBearer:
		return append(opts, kgo.SASL(oauth.Auth{Token: UnsecuredJWT(s.User, time.Hour)}.AsMechanism()))
	}
	t.Fatalf("unknown mechanism %q (want one of %s)", mechanism, strings.Join(SecureMechanisms, ", "))
	return nil
}

// UnsecuredJWT is an unsigned ("alg":"none") JWT for subject, valid for
// ttl: what Kafka's default OAUTHBEARER validator, meant for tests only,
// accepts. Never a credential for a real cluster.
func UnsecuredJWT(subject string, ttl time.Duration) string {
	enc := base64.RawURLEncoding
	now := time.Now()
	header, _ := json.Marshal(map[string]string{"alg": "none"})
	claims, _ := json.Marshal(map[string]any{"sub": subject, "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
	return enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + "."
}
