package config

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/veltrix/veltrix/pkg/kafka"
)

// checkSecurity finds kafka.tls.* and kafka.sasl.* settings that cannot
// work: TLS settings while TLS is off, half a key pair, a mechanism without
// its credentials, credentials without a mechanism, and files that cannot
// be read or do not hold what they should. Like checkRules, each problem
// names the key whose value is the likely mistake. Files are read here so
// a typo in a path stops veltrix with exit 2, before it connects.
func checkSecurity(l *Loaded) []Problem {
	v, src := l.Values, l.Sources
	var out []Problem
	bad := func(key, rule string) {
		out = append(out, Problem{Key: key, Value: text(v[key]), Source: src[key], Rule: rule})
	}
	str := func(k string) string { s, _ := v[k].(string); return s }
	on := func(k string) bool { b, _ := v[k].(bool); return b }
	readable := func(key string) bool {
		if _, err := os.ReadFile(str(key)); err != nil {
			bad(key, fileRule(err))
			return false
		}
		return true
	}

	// TLS.
	if !on("kafka.tls.enabled") {
		for _, k := range []string{"kafka.tls.ca_file", "kafka.tls.cert_file", "kafka.tls.key_file", "kafka.tls.server_name"} {
			if str(k) != "" {
				bad(k, "takes effect only over TLS; set kafka.tls.enabled=true, or leave it empty")
			}
		}
		if on("kafka.tls.insecure_skip_verify") {
			bad("kafka.tls.insecure_skip_verify", "takes effect only over TLS; set kafka.tls.enabled=true, or leave it false")
		}
	} else {
		if ca := str("kafka.tls.ca_file"); ca != "" && readable("kafka.tls.ca_file") {
			if _, err := kafka.LoadCA(ca); err != nil {
				bad("kafka.tls.ca_file", "holds no usable PEM certificate: "+strings.TrimPrefix(err.Error(), "reading certificates: "))
			}
		}
		cert, key := str("kafka.tls.cert_file"), str("kafka.tls.key_file")
		switch {
		case cert != "" && key == "":
			bad("kafka.tls.cert_file", "a client certificate needs its private key: set kafka.tls.key_file")
		case cert == "" && key != "":
			bad("kafka.tls.key_file", "a private key needs its client certificate: set kafka.tls.cert_file")
		case cert != "":
			okCert, okKey := readable("kafka.tls.cert_file"), readable("kafka.tls.key_file")
			if okCert && okKey {
				if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
					bad("kafka.tls.cert_file", "is not a PEM certificate whose private key is kafka.tls.key_file: "+strings.TrimPrefix(err.Error(), "tls: "))
				}
			}
		}
	}

	// SASL.
	mech := str("kafka.sasl.mechanism")
	user, pass := str("kafka.sasl.username"), str("kafka.sasl.password")
	switch mech {
	case kafka.MechanismPlain, kafka.MechanismScramSHA256, kafka.MechanismScramSHA512:
		if user == "" {
			bad("kafka.sasl.username", fmt.Sprintf("SASL %s needs a user name", mech))
		}
		if pass == "" {
			bad("kafka.sasl.password", fmt.Sprintf("SASL %s needs a password: set kafka.sasl.password_file, %s or kafka.sasl.password",
				mech, EnvName("kafka.sasl.password")))
		}
	case kafka.MechanismOAuthBearer:
		out = append(out, checkOAuth(l)...)
	}
	if mech != kafka.MechanismOAuthBearer {
		for _, k := range oauthKeys {
			if text(v[k]) != "" {
				bad(k, fmt.Sprintf("is read only with kafka.sasl.mechanism=oauthbearer, not %s", mech))
			}
		}
	}
	if mech == kafka.MechanismNone || mech == kafka.MechanismOAuthBearer {
		for _, k := range []string{"kafka.sasl.username", "kafka.sasl.password"} {
			if str(k) != "" {
				bad("kafka.sasl.mechanism", fmt.Sprintf("%s is set but mechanism %s does not use it: set plain, scram-sha-256 or scram-sha-512, or leave %s empty", k, mech, k))
				break
			}
		}
	}
	return out
}

// oauthKeys are the settings only oauthbearer reads.
var oauthKeys = []string{
	"kafka.sasl.oauth.token_file", "kafka.sasl.oauth.token_url", "kafka.sasl.oauth.client_id",
	"kafka.sasl.oauth.client_secret", "kafka.sasl.oauth.scopes", "kafka.sasl.oauth.extensions",
}

// checkOAuth finds oauthbearer settings that cannot work: no token source,
// both sources, a token endpoint without its credentials or with a URL
// that is not one, client credentials without an endpoint, and a token
// file that cannot be read.
func checkOAuth(l *Loaded) []Problem {
	v, src := l.Values, l.Sources
	var out []Problem
	bad := func(key, rule string) {
		out = append(out, Problem{Key: key, Value: text(v[key]), Source: src[key], Rule: rule})
	}
	str := func(k string) string { s, _ := v[k].(string); return s }
	if ext, ok := v["kafka.sasl.oauth.extensions"].([]string); ok {
		if _, err := kafka.ParseExtensions(ext); err != nil {
			bad("kafka.sasl.oauth.extensions", strings.TrimPrefix(err.Error(), "SASL extension "))
		}
	}
	file, endpoint := str("kafka.sasl.oauth.token_file"), str("kafka.sasl.oauth.token_url")
	switch {
	case file == "" && endpoint == "":
		bad("kafka.sasl.oauth.token_file", "SASL oauthbearer needs a token file, or a token endpoint: set kafka.sasl.oauth.token_file, or kafka.sasl.oauth.token_url with kafka.sasl.oauth.client_id and kafka.sasl.oauth.client_secret")
	case file != "" && endpoint != "":
		bad("kafka.sasl.oauth.token_url", fmt.Sprintf("kafka.sasl.oauth.token_file is set too (from %s); set one of them", src["kafka.sasl.oauth.token_file"]))
	case file != "":
		if _, err := os.ReadFile(file); err != nil {
			bad("kafka.sasl.oauth.token_file", fileRule(err))
		} else if _, err := kafka.ReadToken(file); err != nil {
			bad("kafka.sasl.oauth.token_file", "the file is empty")
		}
		for _, k := range []string{"kafka.sasl.oauth.client_id", "kafka.sasl.oauth.client_secret", "kafka.sasl.oauth.scopes"} {
			if text(v[k]) != "" {
				bad(k, "is used only with a token endpoint (kafka.sasl.oauth.token_url), not with kafka.sasl.oauth.token_file; leave it empty")
			}
		}
	default:
		if rule := tokenURLRule(endpoint); rule != "" {
			p := Problem{Key: "kafka.sasl.oauth.token_url", Value: endpoint, Source: src["kafka.sasl.oauth.token_url"], Rule: rule}
			if u, err := url.Parse(endpoint); err == nil && u.User != nil {
				// A password in the URL must not be shown back.
				u.User = url.User(u.User.Username())
				p.Value = strings.Replace(u.String(), "@", ":"+Redacted+"@", 1)
			}
			out = append(out, p)
		}
		if str("kafka.sasl.oauth.client_id") == "" {
			bad("kafka.sasl.oauth.client_id", "a token endpoint (kafka.sasl.oauth.token_url) needs a client id")
		}
		if str("kafka.sasl.oauth.client_secret") == "" {
			bad("kafka.sasl.oauth.client_secret", fmt.Sprintf("a token endpoint (kafka.sasl.oauth.token_url) needs a client secret: set kafka.sasl.oauth.client_secret_file, %s or kafka.sasl.oauth.client_secret",
				EnvName("kafka.sasl.oauth.client_secret")))
		}
	}
	return out
}

// tokenURLRule says why u cannot be a token endpoint, or "" when it can:
// an absolute http or https URL with a host and no user information (the
// client's credentials have settings of their own, and a URL is shown in
// errors).
func tokenURLRule(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "is not a URL: " + strings.TrimPrefix(err.Error(), "parse "+strconv.Quote(u)+": ")
	case p.Scheme != "https" && p.Scheme != "http", p.Host == "":
		return "is not an http or https URL, e.g. https://login.example.com/oauth2/token"
	case p.User != nil:
		return "holds user information: set kafka.sasl.oauth.client_id and kafka.sasl.oauth.client_secret instead"
	}
	return ""
}
