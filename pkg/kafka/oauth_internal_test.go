package kafka

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTokenExpiryWithoutExpiresIn: an answer without expires_in is kept
// until the JWT's own exp claim; an opaque token without it is not kept.
func TestTokenExpiryWithoutExpiresIn(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":"alice","exp":%d}`, exp.Unix()))
	jwt := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + claims + "."
	for _, tc := range []struct {
		name   string
		token  string
		issued int32
	}{
		{"jwt", jwt, 1},
		{"opaque", "opaque-token", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var issued atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				issued.Add(1)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer"}`, tc.token)
			}))
			defer srv.Close()
			src := newTokenSource(OAuthConfig{TokenURL: srv.URL, ClientID: "a", ClientSecret: "b"}, srv.Client(), time.Minute)
			for range 3 {
				tok, err := src.Token()
				if err != nil {
					t.Fatal(err)
				}
				if tc.token == jwt && !tok.Expiry.Equal(exp) {
					t.Errorf("expiry %s, want the exp claim's %s", tok.Expiry, exp)
				}
			}
			if n := issued.Load(); n != tc.issued {
				t.Errorf("issued %d for 3 calls, want %d", n, tc.issued)
			}
		})
	}
	if _, ok := jwtExpiry("a.b"); ok {
		t.Error("two parts read as a JWT")
	}
	if _, ok := jwtExpiry("e30.e30."); ok { // {} . {}: no exp
		t.Error("a JWT without exp has an expiry")
	}
}

// TestHookRemembersTokenError: Connect's hook keeps why the latest token
// fetch failed, so a deadline that a client's own retries reach first
// still names the token endpoint; a later success clears it.
func TestHookRemembersTokenError(t *testing.T) {
	h := new(connHook)
	te := &TokenError{URL: "https://idp/token", ClientID: "a", Reason: "the endpoint did not answer"}
	h.tokenFailed(fmt.Errorf("wrapped: %w", te))
	if h.token() != te {
		t.Fatalf("token() = %v, want the error", h.token())
	}
	h.tokenFailed(nil)
	if h.token() != nil {
		t.Fatalf("after a success token() = %v, want nil", h.token())
	}
}

// TestTokenRefusals: what an endpoint answers instead of a token, in one
// line, with the setting to check, and what it echoes of the secret
// scrubbed.
func TestTokenRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"invalid-scope", 400, `{"error":"invalid_scope","error_description":"scope kafka is not allowed"}`,
			`failed: the endpoint refused the scopes (HTTP 400 Bad Request, invalid_scope: scope kafka is not allowed); check kafka.sasl.oauth.scopes`},
		{"no-error-code", 403, "<html>\n<body>Forbidden</body>\n</html>", `failed: the endpoint refused (HTTP 403 Forbidden, <html>; <body>Forbidden</body>; </html>)`},
		{"echoes-secret", 400, `{"error":"invalid_request","error_description":"bad secret s3cr3t-value"}`,
			`failed: the endpoint refused (HTTP 400 Bad Request, invalid_request: bad secret <redacted>)`},
		{"not-a-token", 200, `{"token_type":"Bearer"}`, `failed: the endpoint's answer holds no token: server response missing access_token`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			_, err := newTokenSource(OAuthConfig{TokenURL: srv.URL, ClientID: "a", ClientSecret: "s3cr3t-value"}, srv.Client(), time.Minute).Token()
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Fatalf("error\n  %v\nwant it to end\n  %s", err, tc.want)
			}
		})
	}
}
