package kafka

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenEarlyExpiry is how long before a token's expiry a new one is
// fetched. A broker ends (or makes the client re-authenticate) a session
// when its token expires, so a connection must never start with a token
// that has only seconds left; a minute also covers modest clock skew
// between this machine and the identity provider.
const tokenEarlyExpiry = time.Minute

// TokenError says the token endpoint (kafka.sasl.oauth.token_url) did not
// issue an OAUTHBEARER token: it refused the client's credentials or
// scopes, answered with something that is not a token, or could not be
// reached. It names the endpoint and the client, never the secret.
type TokenError struct {
	URL      string // the token endpoint
	ClientID string // kafka.sasl.oauth.client_id
	// Reason says what went wrong, in one line, with the setting that
	// fixes it when there is one.
	Reason string
	// Final is true when waiting cannot help: the endpoint answered,
	// refusing, or its certificate is not trusted. False for an endpoint
	// that did not answer, which may be starting.
	Final bool
	Err   error
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("fetching an OAUTHBEARER token from %s as client %q failed: %s", e.URL, e.ClientID, e.Reason)
}

func (e *TokenError) Unwrap() error { return e.Err }

// tokenFetcher fetches a new token at every call; oauth2's reuse source
// around it keeps each token until shortly before it expires.
type tokenFetcher struct {
	cfg    clientcredentials.Config
	client *http.Client
}

// newTokenSource returns the cached, self-refreshing source of tokens
// from o.TokenURL, asked with client: a token is fetched at the first
// call and again once it is within early of its expiry. It is safe for
// concurrent use, so every connection of a client shares its tokens.
func newTokenSource(o OAuthConfig, client *http.Client, early time.Duration) oauth2.TokenSource {
	f := &tokenFetcher{
		cfg: clientcredentials.Config{
			ClientID:     o.ClientID,
			ClientSecret: o.ClientSecret,
			TokenURL:     o.TokenURL,
			Scopes:       o.Scopes,
		},
		client: client,
	}
	return oauth2.ReuseTokenSourceWithExpiry(nil, f, early)
}

// Token implements oauth2.TokenSource.
func (f *tokenFetcher) Token() (*oauth2.Token, error) {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client)
	// Config.Token fetches anew at every call: the caching is ours.
	tok, err := f.cfg.Token(ctx)
	if err != nil {
		return nil, f.fail(err)
	}
	if tok.Expiry.IsZero() {
		// No expires_in in the answer: the token's own exp claim, when
		// it is a JWT, says when it expires; otherwise nothing does, and
		// a token whose lifetime is unknown is fetched anew for every
		// authentication rather than kept until a broker refuses it.
		if exp, ok := jwtExpiry(tok.AccessToken); ok {
			tok.Expiry = exp
		} else {
			tok.Expiry = time.Now()
		}
	}
	return tok, nil
}

// fail turns what oauth2 returned into a *TokenError in one line.
func (f *tokenFetcher) fail(err error) error {
	te := &TokenError{URL: f.cfg.TokenURL, ClientID: f.cfg.ClientID, Err: err}
	var re *oauth2.RetrieveError
	var ue *url.Error
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &re):
		te.Final = true
		// What the endpoint said, scrubbed of the secret in case it
		// echoes what it was sent.
		te.Reason = refusal(re)
		if s := f.cfg.ClientSecret; s != "" {
			te.Reason = strings.ReplaceAll(te.Reason, s, "<redacted>")
		}
	case errors.As(err, &unknownCA):
		te.Final = true
		te.Reason = "its certificate is not signed by a CA this machine trusts; add the CA to the system's roots or point SSL_CERT_FILE at a PEM file holding it"
	case errors.As(err, &hostname):
		te.Final = true
		te.Reason = "its certificate does not hold the host name of kafka.sasl.oauth.token_url"
	case errors.As(err, &ue):
		te.Reason = "the endpoint did not answer: " + ue.Err.Error()
	default:
		// A 2xx answer that is not a token (no access_token, not JSON).
		te.Final = true
		te.Reason = "the endpoint's answer holds no token: " + strings.TrimPrefix(err.Error(), "oauth2: ")
	}
	te.Reason = oneLine(te.Reason)
	return te
}

// refusal says in words why the endpoint refused, from its RFC 6749
// error code or, without one, its status and the start of its body.
func refusal(re *oauth2.RetrieveError) string {
	status := "no status"
	if re.Response != nil {
		status = "HTTP " + re.Response.Status
	}
	what := re.ErrorCode
	if re.ErrorDescription != "" {
		what += ": " + re.ErrorDescription
	}
	if what == "" {
		body := strings.TrimSpace(string(re.Body))
		if len(body) > 200 {
			body = body[:200] + "..."
		}
		what = body
	}
	answer := status
	if what != "" {
		answer += ", " + what
	}
	unauthorized := re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized
	switch {
	case re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client" || unauthorized:
		return fmt.Sprintf("the endpoint refused the client credentials (%s); check kafka.sasl.oauth.client_id and kafka.sasl.oauth.client_secret", answer)
	case re.ErrorCode == "invalid_scope":
		return fmt.Sprintf("the endpoint refused the scopes (%s); check kafka.sasl.oauth.scopes", answer)
	}
	return fmt.Sprintf("the endpoint refused (%s)", answer)
}

// oneLine joins the lines of s with "; ", so an error stays one line.
func oneLine(s string) string {
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// jwtExpiry reads the exp claim of a JWT without verifying it: only to
// know when to fetch the next token, never to trust this one.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	sec, err := claims.Exp.Float64()
	if err != nil || sec <= 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), 0), true
}
