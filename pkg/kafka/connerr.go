package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AuthError says a broker refused the client's SASL authentication: wrong
// credentials, an unknown user, a mechanism the broker does not enable, or
// SASL missing where the broker requires it. Waiting does not help, so
// Connect returns it at once.
type AuthError struct {
	Broker    string // host:port of the broker that refused, or the seed brokers when unknown
	Mechanism string // kafka.sasl.mechanism
	User      string // kafka.sasl.username; "" for none and oauthbearer
	Err       error  // the broker's answer, or how the connection ended
}

func (e *AuthError) Error() string {
	var who string
	switch {
	case e.Mechanism == "" || e.Mechanism == MechanismNone:
		who = "no SASL mechanism (kafka.sasl.mechanism=none), but the broker requires one"
	case e.User != "":
		who = fmt.Sprintf("SASL %s as user %q", strings.ToUpper(e.Mechanism), e.User)
	default:
		who = "SASL " + strings.ToUpper(e.Mechanism)
	}
	return fmt.Sprintf("authentication failed at broker %s with %s: %v", e.Broker, who, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// TLSError says the TLS handshake with a broker failed, or one side spoke
// TLS and the other plaintext. Reason says which, in words, with the
// setting that fixes it. Waiting does not help, so Connect returns it at
// once.
type TLSError struct {
	Broker string // host:port, or the seed brokers when unknown
	Reason string
	Err    error
}

func (e *TLSError) Error() string {
	return fmt.Sprintf("TLS with broker %s failed: %s (%v)", e.Broker, e.Reason, e.Err)
}

func (e *TLSError) Unwrap() error { return e.Err }

// errClosedDuringSASL is what a broker that refuses credentials by closing
// the connection (as the embedded cluster does) leaves the client with.
var errClosedDuringSASL = errors.New("the broker closed the connection while authenticating, refusing the credentials")

// classify returns the error Ping should give up with at once, or nil for
// an error that waiting may cure (a broker still booting). It names the
// broker the hook saw fail, or the seed brokers.
func classify(err error, cfg Config, h *connHook) error {
	broker := strings.Join(cfg.Brokers, ",")
	var saslBroker string
	var saslReadErr error
	if h != nil {
		if b := h.failed(); b != "" {
			broker = b
		}
		saslBroker, saslReadErr = h.sasl()
	}
	auth := func(broker string, err error) error {
		return &AuthError{Broker: broker, Mechanism: cfg.SASL.Mechanism, User: cfg.SASL.Username, Err: err}
	}
	tlsErr := func(reason string) error { return &TLSError{Broker: broker, Reason: reason, Err: err} }

	// The token endpoint refused before any broker was asked: the
	// broker is not at fault, so the error names the endpoint, not it.
	var te *TokenError
	if errors.As(err, &te) && te.Final {
		return te
	}

	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.IllegalSaslState):
		if saslBroker != "" {
			broker = saslBroker
		}
		return auth(broker, err)
	case saslReadErr != nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return auth(saslBroker, errClosedDuringSASL)
	}

	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var header tls.RecordHeaderError
	var firstEOF *kgo.ErrFirstReadEOF
	switch {
	case errors.As(err, &unknownCA):
		return tlsErr("its certificate is not signed by a CA this client trusts; set kafka.tls.ca_file to the CA that signed it")
	case errors.As(err, &hostname):
		return tlsErr("its certificate does not hold the name this client connected by; connect by a name it holds or set kafka.tls.server_name to one")
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return tlsErr("its certificate has expired, or is not valid yet")
		}
		return tlsErr("its certificate is not valid for this use")
	case errors.As(err, &header):
		return tlsErr("it did not answer in TLS: it looks like a plaintext listener; set kafka.tls.enabled=false or use its TLS port")
	case strings.Contains(err.Error(), "remote error: tls:"):
		msg := err.Error()
		switch {
		case strings.Contains(msg, "certificate required"):
			return tlsErr("it requires a client certificate; set kafka.tls.cert_file and kafka.tls.key_file")
		case strings.Contains(msg, "expired certificate"):
			return tlsErr("it refused the client certificate as expired; renew kafka.tls.cert_file")
		case strings.Contains(msg, "certificate"), strings.Contains(msg, "unknown ca"):
			return tlsErr("it refused the client certificate (kafka.tls.cert_file): not signed by a CA it trusts, or not for client use")
		}
		return tlsErr("it refused the TLS handshake; check kafka.tls.* against the broker's listener")
	case errors.As(err, &firstEOF):
		switch msg := firstEOF.Error(); {
		case strings.Contains(msg, "SASL is required"):
			return auth(broker, err)
		case cfg.TLS.Enabled:
			return tlsErr("it closed the connection when the client opened TLS: it looks like a plaintext listener; set kafka.tls.enabled=false or use its TLS port")
		default:
			return tlsErr("it closed the connection at the first plaintext request: it looks like a TLS listener; set kafka.tls.enabled=true (or use its plaintext port)")
		}
	}
	return nil
}

// connHook watches a client's connections to name the broker a failure
// came from, which Client.Ping does not, and to tell a broker that refuses
// credentials by closing the connection mid-authentication from one that
// went away.
type connHook struct {
	mu         sync.Mutex
	lastFailed string      // the broker of the latest failed dial, read or write
	saslBroker string      // the broker of the latest SASL request written
	saslErr    error       // the read error of a SASL request, if one failed
	tokenErr   *TokenError // why the latest OAUTHBEARER token fetch failed; nil after a success
}

var (
	_ kgo.HookBrokerConnect = (*connHook)(nil)
	_ kgo.HookBrokerWrite   = (*connHook)(nil)
	_ kgo.HookBrokerRead    = (*connHook)(nil)
)

func addr(m kgo.BrokerMetadata) string { return net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))) }

func isSASL(key int16) bool {
	return key == int16(kmsg.SASLHandshake) || key == int16(kmsg.SASLAuthenticate)
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *connHook) OnBrokerConnect(m kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.mu.Lock()
		h.lastFailed = addr(m)
		h.mu.Unlock()
	}
}

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (h *connHook) OnBrokerWrite(m kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && !isSASL(key) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if isSASL(key) {
		h.saslBroker = addr(m)
	}
	if err != nil {
		h.lastFailed = addr(m)
	}
}

// OnBrokerRead implements kgo.HookBrokerRead.
func (h *connHook) OnBrokerRead(m kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastFailed = addr(m)
	if isSASL(key) {
		h.saslBroker, h.saslErr = addr(m), err
	}
}

func (h *connHook) failed() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastFailed
}

func (h *connHook) sasl() (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.saslBroker, h.saslErr
}

// tokenFailed records the outcome of a token fetch: a *TokenError, or nil
// for a token.
func (h *connHook) tokenFailed(err error) {
	var te *TokenError
	errors.As(err, &te)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokenErr = te
}

func (h *connHook) token() *TokenError {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokenErr
}
