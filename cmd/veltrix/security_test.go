package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
	"github.com/veltrix/veltrix/internal/tlstest"
)

// The test passwords; no output of any command may ever hold one.
const (
	plainSecret  = "plain-Secret-4711"
	scram256Pass = "scram256-Secret-0815"
	scram512Pass = "scram512-Secret-1337"
	wrongSecret  = "wrong-Secret-2342"
	oauthSecret  = "oauth-client-Secret-9001" // kafka.sasl.oauth.client_secret
)

var testSecrets = []string{plainSecret, scram256Pass, scram512Pass, wrongSecret, oauthSecret}

// oauthClient is the client id at the test token endpoints.
const oauthClient = "veltrix-pipeline"

// noSecrets fails the test when out holds a test password.
func noSecrets(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range testSecrets {
		if strings.Contains(out, s) {
			t.Errorf("%s shows a password:\n%s", what, out)
		}
	}
}

// secureEnv is a PKI in files and embedded clusters that need TLS, mutual
// TLS and SASL, with the user alice for every mechanism.
type secureEnv struct {
	dir                  string
	ca                   string // CA file
	clientCert, clientKy string // alice's client certificate
	tls, mtls, sasl      []string
	saslTLS              []string
}

func newSecureEnv(t *testing.T) secureEnv {
	t.Helper()
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	server := ca.Server(t)
	e := secureEnv{dir: dir, ca: ca.WriteCA(t, dir)}
	e.clientCert, e.clientKy = ca.Client(t, "alice").Write(t, dir, "alice")
	users := []kfake.Opt{kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "alice", plainSecret),
		kfake.Superuser("SCRAM-SHA-256", "alice", scram256Pass),
		kfake.Superuser("SCRAM-SHA-512", "alice", scram512Pass)}
	e.tls = kafkatest.Fake(t, kfake.TLS(tlstest.ServerConfig(server, nil))).ListenAddrs()
	e.mtls = kafkatest.Fake(t, kfake.TLS(tlstest.ServerConfig(server, ca))).ListenAddrs()
	e.sasl = kafkatest.Fake(t, users...).ListenAddrs()
	e.saslTLS = kafkatest.Fake(t, append(users, kfake.TLS(tlstest.ServerConfig(server, nil)))...).ListenAddrs()
	return e
}

// file writes body to a file in the environment's directory.
func (e secureEnv) file(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSecurePipeline runs produce → process (forward) → verify over TLS,
// mutual TLS and each SASL mechanism on the embedded cluster, with the
// connection settings in the environment as a deployment would set them,
// and checks nothing is lost and no password shows in any output, in
// /metrics or on the status page.
func TestSecurePipeline(t *testing.T) {
	e := newSecureEnv(t)
	tlsOn := []string{"VELTRIX_KAFKA_TLS_ENABLED=true", "VELTRIX_KAFKA_TLS_CA_FILE=" + e.ca}
	for _, tc := range []struct {
		name    string
		brokers []string
		env     []string
	}{
		{"tls", e.tls, tlsOn},
		{"mtls", e.mtls, append([]string{"VELTRIX_KAFKA_TLS_CERT_FILE=" + e.clientCert, "VELTRIX_KAFKA_TLS_KEY_FILE=" + e.clientKy}, tlsOn...)},
		{"plain-over-tls", e.saslTLS, append([]string{"VELTRIX_KAFKA_SASL_MECHANISM=plain", "VELTRIX_KAFKA_SASL_USERNAME=alice",
			"VELTRIX_KAFKA_SASL_PASSWORD_FILE=" + e.file(t, "plain-password", plainSecret+"\n")}, tlsOn...)},
		{"scram-sha-256", e.sasl, []string{"VELTRIX_KAFKA_SASL_MECHANISM=scram-sha-256", "VELTRIX_KAFKA_SASL_USERNAME=alice",
			"VELTRIX_KAFKA_SASL_PASSWORD=" + scram256Pass}},
		{"scram-sha-512-over-tls", e.saslTLS, append([]string{"VELTRIX_KAFKA_SASL_MECHANISM=scram-sha-512", "VELTRIX_KAFKA_SASL_USERNAME=alice",
			"VELTRIX_KAFKA_SASL_PASSWORD_FILE=" + e.file(t, "scram512-password", scram512Pass)}, tlsOn...)},
	} {
		t.Run(tc.name, func(t *testing.T) { securePipeline(t, tc.brokers, tc.env) })
	}
}

// TestSecurePipelineRealBroker runs the same pipeline against the real
// secure broker (scripts/kafka.sh start-secure): SASL_SSL with PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER (a token file, and tokens
// from a token endpoint by client credentials), and mutual TLS on its SSL
// listener; then a wrong password, which must fail within
// kafka.connect_timeout naming the mechanism and the user, and a client
// secret the token endpoint refuses, which must fail at once naming the
// endpoint and the client.
func TestSecurePipelineRealBroker(t *testing.T) {
	s := kafkatest.Secure(t)
	saved := testSecrets
	testSecrets = append(append([]string(nil), testSecrets...), s.Password)
	t.Cleanup(func() { testSecrets = saved })
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	password := write("password", s.Password+"\n")
	token := write("token", kafkatest.UnsecuredJWT(s.User, time.Hour))
	tlsOn := []string{"VELTRIX_KAFKA_TLS_ENABLED=true", "VELTRIX_KAFKA_TLS_CA_FILE=" + s.CAFile}
	sasl := func(mech string, secret ...string) []string {
		return append(append([]string{"VELTRIX_KAFKA_SASL_MECHANISM=" + mech, "VELTRIX_KAFKA_SASL_USERNAME=" + s.User}, secret...), tlsOn...)
	}
	// The token endpoint issues unsigned JWTs for the broker's user, which
	// its unsecured validator accepts; veltrix trusts the endpoint's test
	// CA through SSL_CERT_FILE, as it would a private CA in production.
	ts := kafkatest.NewTokenServer(t, oauthClient, oauthSecret, s.User, time.Hour)
	clientCredentials := func(secret string) []string {
		return append([]string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL=" + ts.URL,
			"VELTRIX_KAFKA_SASL_OAUTH_CLIENT_ID=" + oauthClient, "VELTRIX_KAFKA_SASL_OAUTH_SCOPES=kafka",
			"SSL_CERT_FILE=" + ts.CAFile, secret}, tlsOn...)
	}
	for _, tc := range []struct {
		name    string
		brokers []string
		env     []string
	}{
		{"plain", s.SASLSSL, sasl("plain", "VELTRIX_KAFKA_SASL_PASSWORD_FILE="+password)},
		{"scram-sha-256", s.SASLSSL, sasl("scram-sha-256", "VELTRIX_KAFKA_SASL_PASSWORD="+s.Password)},
		{"scram-sha-512", s.SASLSSL, sasl("scram-sha-512", "VELTRIX_KAFKA_SASL_PASSWORD_FILE="+password)},
		{"oauthbearer", s.SASLSSL, append([]string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE=" + token}, tlsOn...)},
		{"oauthbearer-client-credentials", s.SASLSSL, clientCredentials("VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE=" + write("client-secret", oauthSecret+"\n"))},
		{"mtls", s.MTLS, append([]string{"VELTRIX_KAFKA_TLS_CERT_FILE=" + s.CertFile, "VELTRIX_KAFKA_TLS_KEY_FILE=" + s.KeyFile}, tlsOn...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.Issued()
			securePipeline(t, tc.brokers, tc.env)
			if strings.HasPrefix(tc.name, "oauthbearer-client") {
				n := ts.Issued() - before
				if n == 0 {
					t.Fatal("the token endpoint issued no token")
				}
				t.Logf("the token endpoint issued %d tokens for produce, process and verify", n)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		env := append([]string{"VELTRIX_KAFKA_BROKERS=" + strings.Join(s.SASLSSL, ","), "VELTRIX_KAFKA_CONNECT_TIMEOUT=10s"},
			sasl("scram-sha-512", "VELTRIX_KAFKA_SASL_PASSWORD="+wrongSecret)...)
		start := time.Now()
		r := veltrixEnv(t, env, "produce", "--topic", kafkatest.Name(t, "in"), "--count", "1", "--json", "--metrics-addr", "")
		took := time.Since(start)
		noSecrets(t, "produce", r.stdout+r.stderr)
		want := fmt.Sprintf("authentication failed at broker %s with SASL SCRAM-SHA-512 as user %q", s.SASLSSL[0], s.User)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Fatalf("exit %d, want 1 and %q:\n%s", r.code, want, r.stderr)
		}
		if took > 10*time.Second {
			t.Errorf("took %s, more than kafka.connect_timeout", took)
		}
		t.Logf("wrong password refused in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
	})
	t.Run("wrong client secret", func(t *testing.T) {
		env := append([]string{"VELTRIX_KAFKA_BROKERS=" + strings.Join(s.SASLSSL, ","), "VELTRIX_KAFKA_CONNECT_TIMEOUT=10s"},
			clientCredentials("VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET="+wrongSecret)...)
		refused := ts.Refused()
		start := time.Now()
		r := veltrixEnv(t, env, "produce", "--topic", kafkatest.Name(t, "in"), "--count", "1", "--json", "--metrics-addr", "")
		took := time.Since(start)
		noSecrets(t, "produce", r.stdout+r.stderr)
		want := fmt.Sprintf("veltrix: fetching an OAUTHBEARER token from %s as client %q failed: the endpoint refused the client credentials (HTTP 401 Unauthorized, invalid_client: ", ts.URL, oauthClient)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Fatalf("exit %d, want 1 and %q:\n%s", r.code, want, r.stderr)
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("want one line:\n%s", r.stderr)
		}
		if ts.Refused() == refused {
			t.Error("the token endpoint was never asked")
		}
		if took > 5*time.Second {
			t.Errorf("took %s; a refusal must end the connect at once", took)
		}
		t.Logf("wrong client secret refused in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
	})
}

// securePipeline runs produce → process (forward) → verify with the
// connection settings in env against brokers, and checks nothing is lost
// and no test password shows in any output, in /metrics or on the status
// page.
func securePipeline(t *testing.T, brokers, env []string) {
	t.Helper()
	const n = 2000
	env = append([]string{"VELTRIX_KAFKA_BROKERS=" + strings.Join(brokers, ",")}, env...)
	in, out, group := kafkatest.Name(t, "in"), kafkatest.Name(t, "out"), kafkatest.Name(t, "g")
	r := veltrixEnv(t, env, "produce", "--topic", in, "--count", fmt.Sprint(n), "--rate", "0", "--json", "--metrics-addr", "")
	noSecrets(t, "produce", r.stdout+r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf(`"acked":%d`, n)) {
		t.Fatalf("produce: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	cmd := exec.Command(veltrixBin(t), "process", "--topic", in, "--group", group, "--handler", "forward", "--output-topic", out,
		"--metrics-addr", "127.0.0.1:0", "--processor.group.session_timeout", "6s", "--processor.group.heartbeat_interval", "1s")
	cmd.Env = append(child.Env(), env...)
	p := startCmd(t, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url, err := p.MetricsURL(ctx)
	if err != nil {
		t.Fatalf("process never printed its metrics URL: %v\n%s", err, p.Output())
	}
	kafkatest.Eventually(t, 60*time.Second, "all records processed", func() bool {
		return scrape(url)[`veltrix_processed_records_total{topic="`+in+`"}`] == n
	})
	for _, page := range []string{url, strings.TrimSuffix(url, "metrics"), strings.TrimSuffix(url, "metrics") + "status"} {
		noSecrets(t, page, get(t, page))
	}
	if _, err := p.Term(30 * time.Second); err != nil {
		t.Fatalf("process: %v\n%s", err, p.Output())
	}
	if p.ExitCode() != 0 {
		t.Fatalf("process: exit %d\n%s", p.ExitCode(), p.Output())
	}
	noSecrets(t, "process", p.Output())

	r = veltrixEnv(t, env, "verify", "--input", in, "--output", out, "--json")
	noSecrets(t, "verify", r.stdout+r.stderr)
	var rep struct {
		Total struct{ Produced, Delivered, Lost, Duplicated int64 }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("verify: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if rep.Total.Produced != n || rep.Total.Delivered != n || rep.Total.Lost != 0 {
		t.Fatalf("verify: %+v, want %d produced and delivered, 0 lost", rep.Total, n)
	}
	t.Logf("%d produced, %d delivered, %d lost, %d duplicated", rep.Total.Produced, rep.Total.Delivered, rep.Total.Lost, rep.Total.Duplicated)
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// TestSecureBadInput: through the binary, refused credentials and a failed
// TLS handshake end with exit 1 and one line naming the broker, well
// within kafka.connect_timeout; settings that cannot work end with exit 2
// before connecting.
func TestSecureBadInput(t *testing.T) {
	e := newSecureEnv(t)
	tlsOn := []string{"--kafka.tls.enabled", "--kafka.tls.ca_file", e.ca}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"wrong-password", append([]string{"--brokers", e.saslTLS[0], "--kafka.sasl.mechanism", "scram-sha-512", "--kafka.sasl.username", "alice"}, tlsOn...), 1,
			[]string{"veltrix: authentication failed at broker " + e.saslTLS[0] + ` with SASL SCRAM-SHA-512 as user "alice"`}},
		{"unknown-user", []string{"--brokers", e.sasl[0], "--kafka.sasl.mechanism", "plain", "--kafka.sasl.username", "mallory"}, 1,
			[]string{"veltrix: authentication failed at broker " + e.sasl[0] + ` with SASL PLAIN as user "mallory"`}},
		{"untrusted-certificate", []string{"--brokers", e.tls[0], "--kafka.tls.enabled"}, 1,
			[]string{"veltrix: TLS with broker " + e.tls[0] + " failed: its certificate is not signed by a CA this client trusts"}},
		{"plaintext-against-tls", []string{"--brokers", e.mtls[0]}, 1,
			[]string{"veltrix: TLS with broker " + e.mtls[0] + " failed: it closed the connection at the first plaintext request"}},
		{"cert-without-key", append([]string{"--brokers", e.mtls[0], "--kafka.tls.cert_file", e.clientCert}, tlsOn...), 2,
			[]string{`kafka.tls.cert_file = "` + e.clientCert + `" (from flag --kafka.tls.cert_file): a client certificate needs its private key`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"VELTRIX_KAFKA_SASL_PASSWORD_FILE=" + e.file(t, "wrong", wrongSecret)}
			if tc.name == "untrusted-certificate" || tc.name == "plaintext-against-tls" || tc.name == "cert-without-key" {
				env = nil
			}
			start := time.Now()
			r := veltrixEnv(t, env, append([]string{"produce", "--count", "1", "--metrics-addr", "", "--kafka.connect_timeout", "20s"}, tc.args...)...)
			took := time.Since(start)
			noSecrets(t, "produce", r.stdout+r.stderr)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tc.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if tc.code == 1 && strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("want one line:\n%s", r.stderr)
			}
			if took > 10*time.Second {
				t.Errorf("took %s; an answer waiting cannot change must end at once", took)
			}
		})
	}
}

// TestSecretsNeverShown runs every veltrix command that prints settings
// or errors with the test passwords given every way there is — flag,
// environment, <key>_file, the config file, a misspelt key — on the happy
// path, on refused credentials and on invalid configuration, and greps
// every output for them. --help of every command too.
func TestSecretsNeverShown(t *testing.T) {
	e := newSecureEnv(t)
	broker := e.sasl[0]
	saslFlags := []string{"--brokers", broker, "--kafka.sasl.mechanism", "scram-sha-256", "--kafka.sasl.username", "alice", "--kafka.connect_timeout", "5s"}
	commands := [][]string{
		{"config", "validate"},
		{"config", "explain"},
		{"config", "explain", "--json"},
		{"config", "explain", "--changed", "kafka."},
		{"config", "doctor"},
		{"config", "doctor", "--json"},
		{"produce", "--count", "1", "--metrics-addr", ""},
		{"process", "--metrics-addr", ""},
		{"verify", "--input", "a", "--output", "b"},
		{"lag", "--once"},
		{"plan", "--rate", "1000", "--per-instance", "5000"},
		{"demo", "--duration", "1s", "--metrics-addr", ""},
	}
	goodFile := e.file(t, "good.yaml", "kafka:\n  sasl:\n    password: "+scram256Pass+"\n")
	typoFile := e.file(t, "typo.yaml", "kafka:\n  sasl:\n    pasword: "+scram256Pass+"\n")
	wrongFile := e.file(t, "wrong-password", wrongSecret+"\n")
	// The client secret of an OAUTHBEARER token endpoint, every way too.
	// The embedded cluster has no OAUTHBEARER, so no token is fetched: the
	// refused path is TestSecurePipelineRealBroker's.
	oauthFlags := []string{"--kafka.sasl.mechanism", "oauthbearer", "--kafka.sasl.username=",
		"--kafka.sasl.oauth.token_url", "https://127.0.0.1:9/oauth2/token", "--kafka.sasl.oauth.client_id", oauthClient}
	oauthFile := e.file(t, "client-secret", oauthSecret+"\n")
	oauthConfig := e.file(t, "oauth.yaml", "kafka:\n  sasl:\n    oauth:\n      client_secret: "+oauthSecret+"\n")
	ways := []struct {
		name string
		env  []string
		args []string
	}{
		{"client-secret-flag", nil, append([]string{"--kafka.sasl.oauth.client_secret", oauthSecret}, oauthFlags...)},
		{"client-secret-file", []string{"VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE=" + oauthFile}, oauthFlags},
		{"client-secret-config-file", nil, append([]string{"--config", oauthConfig}, oauthFlags...)},
		{"client-secret-with-scram", []string{"VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET=" + oauthSecret}, nil},
		{"flag", nil, []string{"--kafka.sasl.password", scram256Pass}},
		{"env", []string{"VELTRIX_KAFKA_SASL_PASSWORD=" + scram256Pass}, nil},
		{"config-file", nil, []string{"--config", goodFile}},
		{"wrong-password-file", []string{"VELTRIX_KAFKA_SASL_PASSWORD_FILE=" + wrongFile}, nil},
		{"wrong-password-flag", nil, []string{"--kafka.sasl.password", wrongSecret}},
		{"invalid-config", []string{"VELTRIX_KAFKA_SASL_PASSWORD=" + scram256Pass}, []string{"--producer.acks", "leader"}},
		{"misspelt-key", nil, []string{"--config", typoFile}},
		{"misspelt-env", []string{"VELTRIX_KAFKA_SASL_PASWORD=" + scram256Pass}, nil},
	}
	for _, w := range ways {
		for _, c := range commands {
			name := w.name + "/" + strings.Join(c[:min(2, len(c))], "-")
			t.Run(name, func(t *testing.T) {
				args := append(append(append([]string{}, c...), saslFlags...), w.args...)
				if c[0] == "process" || c[0] == "demo" {
					// A group and topic of their own: a member of an
					// earlier run must not hold up this one's join.
					args = append(args, "--topic", kafkatest.Name(t, "t"), "--group", kafkatest.Name(t, "g"))
				}
				var r result
				if c[0] == "process" {
					r = untilStarted(t, w.env, "veltrix process:", args...)
				} else {
					r = veltrixEnv(t, w.env, args...)
				}
				noSecrets(t, strings.Join(args, " "), r.stdout+r.stderr)
				if w.name == "flag" && !strings.Contains(r.stderr, "veltrix: WARNING: kafka.sasl.password was given as a flag") {
					t.Errorf("no warning about the password flag:\n%s", r.stderr)
				}
				if w.name == "client-secret-flag" && !strings.Contains(r.stderr, "veltrix: WARNING: kafka.sasl.oauth.client_secret was given as a flag") {
					t.Errorf("no warning about the client secret flag:\n%s", r.stderr)
				}
			})
		}
	}
	for _, c := range append(commands, []string{"broker"}, []string{"config"}, []string{}) {
		args := append(append([]string{}, c...), "--help", "--kafka.sasl.password", scram256Pass, "--kafka.sasl.oauth.client_secret", oauthSecret)
		if len(c) == 1 && c[0] == "broker" || len(c) < 2 {
			args = append(append([]string{}, c...), "--help")
		}
		r := veltrixEnv(t, []string{"VELTRIX_KAFKA_SASL_PASSWORD=" + scram256Pass, "VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET=" + oauthSecret}, args...)
		noSecrets(t, strings.Join(args, " "), r.stdout+r.stderr)
		if r.code != 0 {
			t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
}

// untilStarted runs the binary like veltrixEnv, but stops it with SIGTERM
// once its output has a line holding started (or it exits first).
func untilStarted(t *testing.T, env []string, started string, args ...string) result {
	t.Helper()
	cmd := exec.Command(veltrixBin(t), args...)
	cmd.Env = append(child.Env(), env...)
	p := startCmd(t, cmd)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := p.WaitOutput(ctx, regexp.MustCompile(regexp.QuoteMeta(started))); err == nil {
		_ = p.Signal(syscall.SIGTERM)
	}
	if err := p.Wait(ctx); err != nil {
		t.Errorf("veltrix %v did not stop within 60s", args)
	}
	return result{code: p.ExitCode(), stdout: p.Stdout(), stderr: p.Stderr()}
}

// TestInsecureSkipVerifyWarns: accepted, and warned on every start.
func TestInsecureSkipVerifyWarns(t *testing.T) {
	e := newSecureEnv(t)
	r := veltrix(t, 60*time.Second, "", "produce", "--brokers", e.tls[0], "--kafka.tls.enabled", "--kafka.tls.insecure_skip_verify",
		"--count", "10", "--rate", "0", "--json", "--metrics-addr", "")
	if r.code != 0 || !strings.Contains(r.stdout, `"acked":10`) {
		t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "veltrix: WARNING: kafka.tls.insecure_skip_verify=true: the brokers' certificates are NOT verified") {
		t.Errorf("no warning:\n%s", r.stderr)
	}
}
