package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/veltrix/veltrix/internal/tlstest"
)

const testSecret = "s3cr3t-Pa55word"

// TestEverySecretHasAFile: every secret can also be given as <key>_file, a
// plain path that is itself no secret.
func TestEverySecretHasAFile(t *testing.T) {
	n := 0
	for _, s := range Schema {
		if !s.Secret {
			continue
		}
		n++
		f, ok := Lookup(s.Key + fileSuffix)
		if !ok || f.Kind != String || f.Secret || f.Default != "" {
			t.Errorf("%s: want a non-secret string setting %s%s with no default, got %+v", s.Key, s.Key, fileSuffix, f)
		}
		if s.Default != "" {
			t.Errorf("%s: a secret has no default", s.Key)
		}
	}
	if n == 0 {
		t.Fatal("the schema declares no secret")
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"VELTRIX_KAFKA_SASL_MECHANISM=scram-sha-512", "VELTRIX_KAFKA_SASL_USERNAME=alice"}
	l, err := Load(Options{Environ: append(base, "VELTRIX_KAFKA_SASL_PASSWORD_FILE="+pw)})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Config.Kafka.SASL.Password; got != testSecret {
		t.Fatalf("password %q, want the file's content without its newline", got)
	}
	if src := l.Sources["kafka.sasl.password"]; src.Layer != "env" || src.Name != "VELTRIX_KAFKA_SASL_PASSWORD_FILE" {
		t.Errorf("password's source %v, want the file setting's", src)
	}
	for _, e := range l.Explain() {
		if strings.Contains(e.Value, testSecret) {
			t.Errorf("explain shows the secret in %s", e.Key)
		}
		if e.Key == "kafka.sasl.password" && e.Value != Redacted {
			t.Errorf("password explained as %q", e.Value)
		}
	}

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		rule string
	}{
		{"missing", []string{"VELTRIX_KAFKA_SASL_PASSWORD_FILE=" + filepath.Join(dir, "nope")}, "file does not exist"},
		{"empty", []string{"VELTRIX_KAFKA_SASL_PASSWORD_FILE=" + empty}, "the file is empty"},
		{"both", []string{"VELTRIX_KAFKA_SASL_PASSWORD_FILE=" + pw, "VELTRIX_KAFKA_SASL_PASSWORD=" + testSecret}, "kafka.sasl.password is set too (from env VELTRIX_KAFKA_SASL_PASSWORD); set one of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Options{Environ: append(base, tc.env...)})
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "kafka.sasl.password_file = ") || !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("want a problem with kafka.sasl.password_file: %s, got %v", tc.rule, err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestSecretsRedactedInProblems: a problem never shows a secret, even one
// given under a misspelt key or variable.
func TestSecretsRedactedInProblems(t *testing.T) {
	file := writeFile(t, "kafka:\n  sasl:\n    pasword: "+testSecret+"\n")
	for _, tc := range []struct {
		opts  Options
		shows bool // the problem shows the value, redacted
	}{
		{Options{File: file}, true},
		{Options{Environ: []string{"VELTRIX_KAFKA_SASL_PASWORD=" + testSecret}}, true},
		{Options{Environ: []string{"VELTRIX_KAFKA_PASSWORD=" + testSecret}}, true},
		{Options{Environ: []string{"VELTRIX_KAFKA_SASL_PASSWORD=" + testSecret}}, false}, // no mechanism uses it
	} {
		opts := tc.opts
		_, err := Load(opts)
		if err == nil {
			t.Fatalf("%+v: loaded", opts)
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Errorf("the error shows the secret:\n%v", err)
		}
		if tc.shows && !strings.Contains(err.Error(), Redacted) {
			t.Errorf("want %s in:\n%v", Redacted, err)
		}
	}
}

func TestSecurityRules(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	caFile := ca.WriteCA(t, dir)
	cert, key := ca.Client(t, "alice").Write(t, dir, "alice")
	_, otherKey := ca.Client(t, "bob").Write(t, dir, "bob")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "unreadable")
	if err := os.WriteFile(unreadable, []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("eyJ...\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyToken := filepath.Join(dir, "empty-token")
	if err := os.WriteFile(emptyToken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oauth := []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL=https://idp.example.com/oauth2/token",
		"VELTRIX_KAFKA_SASL_OAUTH_CLIENT_ID=veltrix-pipeline", "VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET=" + testSecret, "VELTRIX_KAFKA_SASL_OAUTH_SCOPES=kafka,veltrix"}
	tlsOn := "VELTRIX_KAFKA_TLS_ENABLED=true"
	scram := []string{"VELTRIX_KAFKA_SASL_MECHANISM=scram-sha-256", "VELTRIX_KAFKA_SASL_USERNAME=alice", "VELTRIX_KAFKA_SASL_PASSWORD=" + testSecret}

	for _, tc := range []struct {
		name string
		env  []string
		want string // the problem's line, or "" for none
	}{
		{"tls", []string{tlsOn, "VELTRIX_KAFKA_TLS_CA_FILE=" + caFile}, ""},
		{"mtls", []string{tlsOn, "VELTRIX_KAFKA_TLS_CERT_FILE=" + cert, "VELTRIX_KAFKA_TLS_KEY_FILE=" + key}, ""},
		{"scram", scram, ""},
		{"oauthbearer", []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE=" + token}, ""},
		{"insecure-without-tls", []string{"VELTRIX_KAFKA_TLS_INSECURE_SKIP_VERIFY=true"},
			`kafka.tls.insecure_skip_verify = "true" (from env VELTRIX_KAFKA_TLS_INSECURE_SKIP_VERIFY): takes effect only over TLS; set kafka.tls.enabled=true, or leave it false`},
		{"ca-without-tls", []string{"VELTRIX_KAFKA_TLS_CA_FILE=" + caFile},
			`kafka.tls.ca_file = "` + caFile + `" (from env VELTRIX_KAFKA_TLS_CA_FILE): takes effect only over TLS`},
		{"cert-without-key", []string{tlsOn, "VELTRIX_KAFKA_TLS_CERT_FILE=" + cert},
			`kafka.tls.cert_file = "` + cert + `" (from env VELTRIX_KAFKA_TLS_CERT_FILE): a client certificate needs its private key: set kafka.tls.key_file`},
		{"key-without-cert", []string{tlsOn, "VELTRIX_KAFKA_TLS_KEY_FILE=" + key},
			`kafka.tls.key_file = "` + key + `" (from env VELTRIX_KAFKA_TLS_KEY_FILE): a private key needs its client certificate: set kafka.tls.cert_file`},
		{"key-of-another-cert", []string{tlsOn, "VELTRIX_KAFKA_TLS_CERT_FILE=" + cert, "VELTRIX_KAFKA_TLS_KEY_FILE=" + otherKey},
			`kafka.tls.cert_file = "` + cert + `" (from env VELTRIX_KAFKA_TLS_CERT_FILE): is not a PEM certificate whose private key is kafka.tls.key_file: private key does not match public key`},
		{"ca-missing", []string{tlsOn, "VELTRIX_KAFKA_TLS_CA_FILE=" + missing},
			`kafka.tls.ca_file = "` + missing + `" (from env VELTRIX_KAFKA_TLS_CA_FILE): file does not exist`},
		{"ca-not-pem", []string{tlsOn, "VELTRIX_KAFKA_TLS_CA_FILE=" + notPEM},
			`kafka.tls.ca_file = "` + notPEM + `" (from env VELTRIX_KAFKA_TLS_CA_FILE): holds no usable PEM certificate: ` + notPEM + ` holds no PEM certificate`},
		{"cert-unreadable", []string{tlsOn, "VELTRIX_KAFKA_TLS_CERT_FILE=" + unreadable, "VELTRIX_KAFKA_TLS_KEY_FILE=" + key},
			`kafka.tls.cert_file = "` + unreadable + `" (from env VELTRIX_KAFKA_TLS_CERT_FILE): cannot read file: permission denied`},
		{"mechanism-without-user", []string{"VELTRIX_KAFKA_SASL_MECHANISM=plain", "VELTRIX_KAFKA_SASL_PASSWORD=" + testSecret},
			`kafka.sasl.username = "" (from default): SASL plain needs a user name`},
		{"mechanism-without-password", []string{"VELTRIX_KAFKA_SASL_MECHANISM=scram-sha-512", "VELTRIX_KAFKA_SASL_USERNAME=alice"},
			`kafka.sasl.password = "" (from default): SASL scram-sha-512 needs a password: set kafka.sasl.password_file, VELTRIX_KAFKA_SASL_PASSWORD or kafka.sasl.password`},
		{"credentials-without-mechanism", []string{"VELTRIX_KAFKA_SASL_USERNAME=alice"},
			`kafka.sasl.mechanism = "none" (from default): kafka.sasl.username is set but mechanism none does not use it`},
		{"oauthbearer-without-token", []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer"},
			`kafka.sasl.oauth.token_file = "" (from default): SASL oauthbearer needs a token file`},
		{"token-with-scram", append(scram, "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE="+token),
			`kafka.sasl.oauth.token_file = "` + token + `" (from env VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE): is read only with kafka.sasl.mechanism=oauthbearer, not scram-sha-256`},
		{"token-missing", []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE=" + missing},
			`kafka.sasl.oauth.token_file = "` + missing + `" (from env VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE): file does not exist`},
		{"token-empty", []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE=" + emptyToken},
			`kafka.sasl.oauth.token_file = "` + emptyToken + `" (from env VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE): the file is empty`},
		{"client-credentials", oauth, ""},
		{"client-credentials-secret-file", append(oauth[:3:3], "VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE="+secretFile), ""},
		{"oauthbearer-without-source", []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer"},
			`kafka.sasl.oauth.token_file = "" (from default): SASL oauthbearer needs a token file, or a token endpoint: set kafka.sasl.oauth.token_file, or kafka.sasl.oauth.token_url with kafka.sasl.oauth.client_id and kafka.sasl.oauth.client_secret`},
		{"token-file-and-url", append(oauth, "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE="+token),
			`kafka.sasl.oauth.token_url = "https://idp.example.com/oauth2/token" (from env VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL): kafka.sasl.oauth.token_file is set too (from env VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE); set one of them`},
		{"token-url-without-client-id", []string{oauth[0], oauth[1], oauth[3]},
			`kafka.sasl.oauth.client_id = "" (from default): a token endpoint (kafka.sasl.oauth.token_url) needs a client id`},
		{"token-url-without-secret", oauth[:3],
			`kafka.sasl.oauth.client_secret = "" (from default): a token endpoint (kafka.sasl.oauth.token_url) needs a client secret: set kafka.sasl.oauth.client_secret_file, VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET or kafka.sasl.oauth.client_secret`},
		{"token-url-not-a-url", append([]string{"VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL=idp.example.com/token"}, oauth[0], oauth[2], oauth[3]),
			`kafka.sasl.oauth.token_url = "idp.example.com/token" (from env VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL): is not an http or https URL, e.g. https://login.example.com/oauth2/token`},
		{"token-url-with-user", append([]string{"VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL=https://app:" + testSecret + "@idp.example.com/token"}, oauth[0], oauth[2], oauth[3]),
			`kafka.sasl.oauth.token_url = "https://app:<redacted>@idp.example.com/token" (from env VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL): holds user information: set kafka.sasl.oauth.client_id and kafka.sasl.oauth.client_secret instead`},
		{"client-id-with-token-file", []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE=" + token, oauth[2]},
			`kafka.sasl.oauth.client_id = "veltrix-pipeline" (from env VELTRIX_KAFKA_SASL_OAUTH_CLIENT_ID): is used only with a token endpoint (kafka.sasl.oauth.token_url), not with kafka.sasl.oauth.token_file; leave it empty`},
		{"token-url-with-scram", append(scram, oauth[1]),
			`kafka.sasl.oauth.token_url = "https://idp.example.com/oauth2/token" (from env VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL): is read only with kafka.sasl.mechanism=oauthbearer, not scram-sha-256`},
		{"client-secret-without-mechanism", []string{oauth[3]},
			`kafka.sasl.oauth.client_secret = "<redacted>" (from env VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET): is read only with kafka.sasl.mechanism=oauthbearer, not none`},
		{"scopes-with-plain", []string{"VELTRIX_KAFKA_SASL_MECHANISM=plain", "VELTRIX_KAFKA_SASL_USERNAME=alice", "VELTRIX_KAFKA_SASL_PASSWORD=" + testSecret, oauth[4]},
			`kafka.sasl.oauth.scopes = "kafka,veltrix" (from env VELTRIX_KAFKA_SASL_OAUTH_SCOPES): is read only with kafka.sasl.mechanism=oauthbearer, not plain`},
		{"extension-bad-key", []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE=" + token, "VELTRIX_KAFKA_SASL_OAUTH_EXTENSIONS=logicalCluster=lkc-1,pool-id=p"},
			`kafka.sasl.oauth.extensions = "logicalCluster=lkc-1,pool-id=p" (from env VELTRIX_KAFKA_SASL_OAUTH_EXTENSIONS): "pool-id=p": the key must be letters only (RFC 7628)`},
		{"extension-without-value", []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_FILE=" + token, "VELTRIX_KAFKA_SASL_OAUTH_EXTENSIONS=logicalCluster"},
			`kafka.sasl.oauth.extensions = "logicalCluster" (from env VELTRIX_KAFKA_SASL_OAUTH_EXTENSIONS): "logicalCluster": want key=value`},
		{"extensions-with-plain", []string{"VELTRIX_KAFKA_SASL_MECHANISM=plain", "VELTRIX_KAFKA_SASL_USERNAME=alice", "VELTRIX_KAFKA_SASL_PASSWORD=" + testSecret, "VELTRIX_KAFKA_SASL_OAUTH_EXTENSIONS=logicalCluster=lkc-1"},
			`kafka.sasl.oauth.extensions = "logicalCluster=lkc-1" (from env VELTRIX_KAFKA_SASL_OAUTH_EXTENSIONS): is read only with kafka.sasl.mechanism=oauthbearer, not plain`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "cert-unreadable" && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			_, err := Load(Options{Environ: tc.env})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a problem\n  %s\ngot %v", tc.want, err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs, []string{"kafka."})
	if err := fs.Parse([]string{"--kafka.sasl.password", testSecret, "--kafka.tls.enabled", "--kafka.tls.insecure_skip_verify"}); err != nil {
		t.Fatal(err)
	}
	l, err := Load(Options{Environ: []string{"VELTRIX_KAFKA_SASL_MECHANISM=plain", "VELTRIX_KAFKA_SASL_USERNAME=alice"}, Flags: fs})
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(l.Warnings(), "\n")
	for _, want := range []string{"kafka.sasl.password was given as a flag (--kafka.sasl.password)", "ps", "VELTRIX_KAFKA_SASL_PASSWORD or kafka.sasl.password_file",
		"kafka.tls.insecure_skip_verify=true", "NOT verified"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, testSecret) {
		t.Errorf("a warning shows the secret:\n%s", w)
	}
	l, err = Load(Options{Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if w := l.Warnings(); len(w) != 0 {
		t.Errorf("defaults warn: %v", w)
	}
}

// TestOAuthClientCredentialsSettings: the token endpoint's settings land
// in kafka.OAuthConfig, the client secret from its file with that file's
// source, never shown by explain; a plain-http endpoint on another
// machine is warned about, one on loopback is not.
func TestOAuthClientCredentialsSettings(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"VELTRIX_KAFKA_SASL_MECHANISM=oauthbearer", "VELTRIX_KAFKA_SASL_OAUTH_CLIENT_ID=veltrix-pipeline",
		"VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE=" + secretFile, "VELTRIX_KAFKA_SASL_OAUTH_SCOPES=kafka, veltrix"}
	l, err := Load(Options{Environ: append(env, "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL=https://idp.example.com/oauth2/token")})
	if err != nil {
		t.Fatal(err)
	}
	o := l.Config.Kafka.SASL.OAuth
	if o.TokenURL != "https://idp.example.com/oauth2/token" || o.ClientID != "veltrix-pipeline" || o.ClientSecret != testSecret ||
		strings.Join(o.Scopes, "|") != "kafka|veltrix" {
		t.Errorf("OAuth config %+v", o)
	}
	if src := l.Sources["kafka.sasl.oauth.client_secret"]; src.Name != "VELTRIX_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE" {
		t.Errorf("client secret's source %v, want its file setting's", src)
	}
	for _, e := range l.Explain() {
		if strings.Contains(e.Value, testSecret) {
			t.Errorf("explain shows the secret in %s", e.Key)
		}
		if e.Key == "kafka.sasl.oauth.client_secret" && e.Value != Redacted {
			t.Errorf("client secret explained as %q", e.Value)
		}
	}
	if w := l.Warnings(); len(w) != 0 {
		t.Errorf("https warns: %v", w)
	}
	for url, warns := range map[string]bool{
		"http://idp.example.com/token":   true,
		"http://10.0.0.7:8080/token":     true,
		"http://127.0.0.1:8080/token":    false,
		"http://localhost:8080/token":    false,
		"http://[::1]:8080/oauth2/token": false,
	} {
		l, err := Load(Options{Environ: append(env, "VELTRIX_KAFKA_SASL_OAUTH_TOKEN_URL="+url)})
		if err != nil {
			t.Fatal(err)
		}
		w := strings.Join(l.Warnings(), "\n")
		if got := strings.Contains(w, "kafka.sasl.oauth.token_url="+url+" is plain http to another machine: the client secret and the tokens cross the network in clear; use https"); got != warns {
			t.Errorf("%s: warned %v, want %v: %q", url, got, warns, w)
		}
	}
}
