package kafkatest

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/tlstest"
)

// TokenServer is an OAuth 2.0 token endpoint for tests: over TLS with a
// test CA, it issues unsigned JWTs (UnsecuredJWT) for Subject by the
// client credentials grant (RFC 6749 section 4.4) to one client, which
// may authenticate in the Authorization header or in the form, and
// refuses any other with 401 invalid_client. What Kafka's unsecured
// OAUTHBEARER validator accepts; never a credential for a real cluster.
type TokenServer struct {
	URL    string       // the token endpoint, https://127.0.0.1:port/token
	CAFile string       // PEM file of the CA that signed its certificate (for SSL_CERT_FILE)
	Client *http.Client // an HTTP client that trusts that CA

	clientID, secret, subject string
	ttl                       time.Duration

	issued, refused atomic.Int64
	mu              sync.Mutex
	scope           string // of the latest request
}

// NewTokenServer starts a token endpoint that issues tokens for subject,
// valid for ttl (whole seconds, at least one), to the client clientID
// with secret. It stops when the test ends.
func NewTokenServer(t testing.TB, clientID, secret, subject string, ttl time.Duration) *TokenServer {
	t.Helper()
	ca := tlstest.NewCA(t)
	s := &TokenServer{CAFile: ca.WriteCA(t, t.TempDir()), clientID: clientID, secret: secret, subject: subject, ttl: max(ttl.Truncate(time.Second), time.Second)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	srv.TLS = tlstest.ServerConfig(ca.Server(t), nil)
	// A client that does not trust the CA is a case tests make on
	// purpose; its handshake error is no news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/token"
	s.Client = &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	return s
}

// Issued is how many tokens the server has issued.
func (s *TokenServer) Issued() int64 { return s.issued.Load() }

// Refused is how many requests the server has refused.
func (s *TokenServer) Refused() int64 { return s.refused.Load() }

// Scope is the scope parameter of the latest request.
func (s *TokenServer) Scope() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scope
}

func (s *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		s.refused.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "unsupported_grant_type"})
		return
	}
	s.mu.Lock()
	s.scope = r.PostForm.Get("scope")
	s.mu.Unlock()
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 section 2.3.1: both are form-encoded in the header.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1 {
		s.refused.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})
		return
	}
	s.issued.Add(1)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": UnsecuredJWT(s.subject, s.ttl),
		"token_type":   "Bearer",
		"expires_in":   int(s.ttl / time.Second),
	})
}
