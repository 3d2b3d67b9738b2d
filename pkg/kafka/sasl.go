package kafka

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"golang.org/x/oauth2"
)

// Build returns the SASL mechanism of c, or nil for none. The credentials
// are checked to be there, not to be right: only a broker (or for
// OAUTHBEARER by client credentials, the token endpoint) can say that.
// A token endpoint is asked with a timeout of DefaultConfig's
// ConnectTimeout; Options uses the Config's.
func (c SASLConfig) Build() (sasl.Mechanism, error) {
	return c.build(DefaultConfig().ConnectTimeout, nil)
}

// build is Build with the timeout of a request to the token endpoint,
// and tokenFailed (when not nil) told the outcome of every token fetch:
// the error, or nil.
func (c SASLConfig) build(tokenTimeout time.Duration, tokenFailed func(error)) (sasl.Mechanism, error) {
	switch c.Mechanism {
	case "", MechanismNone:
		return nil, nil
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		if c.Username == "" || c.Password == "" {
			return nil, fmt.Errorf("SASL %s needs a username and a password (kafka.sasl.username, kafka.sasl.password)", c.Mechanism)
		}
	case MechanismOAuthBearer:
		o := c.OAuth
		switch {
		case o.TokenFile != "" && o.TokenURL != "":
			return nil, fmt.Errorf("SASL %s takes a token file (kafka.sasl.oauth.token_file) or a token endpoint (kafka.sasl.oauth.token_url), not both", c.Mechanism)
		case o.TokenURL != "":
			if o.ClientID == "" || o.ClientSecret == "" {
				return nil, fmt.Errorf("SASL %s with a token endpoint needs a client id and a client secret (kafka.sasl.oauth.client_id, kafka.sasl.oauth.client_secret)", c.Mechanism)
			}
			if tokenTimeout <= 0 {
				tokenTimeout = DefaultConfig().ConnectTimeout
			}
			ext, err := ParseExtensions(o.Extensions)
			if err != nil {
				return nil, err
			}
			return clientCredentials(newTokenSource(o, &http.Client{Timeout: tokenTimeout}, tokenEarlyExpiry), ext, tokenFailed), nil
		case o.TokenFile == "":
			return nil, fmt.Errorf("SASL %s needs a token file (kafka.sasl.oauth.token_file) or a token endpoint (kafka.sasl.oauth.token_url)", c.Mechanism)
		}
		if _, err := ReadToken(o.TokenFile); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown SASL mechanism %q: want none, plain, scram-sha-256, scram-sha-512 or oauthbearer", c.Mechanism)
	}
	user, pass := c.Username, c.Password
	switch c.Mechanism {
	case MechanismPlain:
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case MechanismScramSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case MechanismScramSHA512:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	path := c.OAuth.TokenFile
	ext, err := ParseExtensions(c.OAuth.Extensions)
	if err != nil {
		return nil, err
	}
	// Called for every connection and re-authentication: a token rotated
	// on disk is used from the next one, with no restart.
	return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
		tok, err := ReadToken(path)
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: tok, Extensions: ext}, nil
	}), nil
}

// ParseExtensions reads OAuthConfig.Extensions ("key=value" each) into the
// map franz-go sends, checking RFC 7628's rules: a key is letters only and
// not "auth", a value printable ASCII (spaces and tabs allowed), no key
// twice. franz-go sends what it is given, and a broker answers a malformed
// extension with an authentication failure that does not say which.
func ParseExtensions(kv []string) (map[string]string, error) {
	if len(kv) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kv))
	for _, e := range kv {
		k, v, ok := strings.Cut(e, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("SASL extension %q: want key=value", e)
		case k == "" || strings.IndexFunc(k, func(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') }) >= 0:
			return nil, fmt.Errorf("SASL extension %q: the key must be letters only (RFC 7628)", e)
		case k == "auth":
			return nil, fmt.Errorf("SASL extension %q: the key auth is reserved for the token", e)
		case v == "" || strings.IndexFunc(v, func(r rune) bool { return (r < 0x21 || r > 0x7e) && r != ' ' && r != '\t' }) >= 0:
			return nil, fmt.Errorf("SASL extension %q: the value must be printable ASCII and not empty (RFC 7628)", e)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("SASL extension %q: key %s given twice", e, k)
		}
		out[k] = v
	}
	return out, nil
}

// clientCredentials is OAUTHBEARER with tokens from src. franz-go calls
// the function for every connection and re-authentication; src hands out
// its cached token until shortly before it expires, then fetches a new
// one, so the endpoint is asked once per token lifetime, not per
// connection. ext are the SASL extensions sent with each token.
// tokenFailed, when not nil, is told each outcome.
func clientCredentials(src oauth2.TokenSource, ext map[string]string, tokenFailed func(error)) sasl.Mechanism {
	return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
		tok, err := src.Token()
		if tokenFailed != nil {
			tokenFailed(err)
		}
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: tok.AccessToken, Extensions: ext}, nil
	})
}

// ReadToken reads an OAUTHBEARER token from path, without surrounding
// white space. An empty file is an error.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the OAUTHBEARER token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("reading the OAUTHBEARER token: %s is empty", path)
	}
	return tok, nil
}
