package doctor

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/veltrix/veltrix/pkg/kafka"
)

// expiryWarning is how long before a certificate expires doctor warns:
// time for a renewal to go through a change process.
const expiryWarning = 30 * 24 * time.Hour

// Certificate is a certificate the connection to the brokers depends on,
// for its expiry.
type Certificate struct {
	Source   string    // where it was found: the setting and file, or the broker
	Subject  string    // its subject's common name
	NotAfter time.Time // when it expires
}

// ReadCertificates returns the certificates in the files c names: the CA
// file and the client certificate. The configuration was validated, so
// the files were readable a moment ago; one that is not now is an error.
func ReadCertificates(c kafka.TLSConfig) ([]Certificate, error) {
	if !c.Enabled {
		return nil, nil
	}
	var out []Certificate
	for _, f := range []struct{ key, path string }{{"kafka.tls.ca_file", c.CAFile}, {"kafka.tls.cert_file", c.CertFile}} {
		if f.path == "" {
			continue
		}
		certs, err := kafka.ReadCertificates(f.path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.key, err)
		}
		for _, x := range certs {
			out = append(out, Certificate{Source: f.key + " " + f.path, Subject: x.Subject.CommonName, NotAfter: x.NotAfter})
		}
	}
	return out, nil
}

// BrokerCertificates returns the certificate each seed broker presents,
// read with a TLS handshake of its own (the Kafka client does not expose
// it). A broker that cannot be reached is left out: connecting already
// said why.
func BrokerCertificates(ctx context.Context, c kafka.Config) []Certificate {
	tc, err := c.TLS.Build()
	if err != nil || tc == nil {
		return nil
	}
	var out []Certificate
	for _, b := range c.Brokers {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: c.ConnectTimeout}, Config: tc}
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			continue
		}
		if pc := conn.(*tls.Conn).ConnectionState().PeerCertificates; len(pc) > 0 {
			out = append(out, Certificate{Source: "broker " + b, Subject: pc[0].Subject.CommonName, NotAfter: pc[0].NotAfter})
		}
		_ = conn.Close()
	}
	return out
}

// Security checks how the clients reach the brokers: plaintext or no
// authentication to brokers on other machines, certificates left
// unverified, and SASL PLAIN without TLS, which sends the password as it is.
func Security(in Input) []Finding {
	k := in.Config.Kafka
	var out []Finding
	remote := remoteBrokers(k.Brokers)
	where := strings.Join(remote, ",")
	if len(remote) > 0 && !k.TLS.Enabled {
		out = append(out, Finding{Check: "security", Severity: Warn,
			Why: fmt.Sprintf("the brokers at %s are reached in plaintext: events and requests cross the network unencrypted, readable and changeable on the way", where),
			Fix: "kafka.tls.enabled=true"})
	}
	mech := k.SASL.Mechanism
	if len(remote) > 0 && (mech == "" || mech == kafka.MechanismNone) && (!k.TLS.Enabled || k.TLS.CertFile == "") {
		out = append(out, Finding{Check: "security", Severity: Warn,
			Why: fmt.Sprintf("veltrix does not authenticate to the brokers at %s (no SASL, no client certificate): they cannot tell it from anyone else who reaches them", where),
			Fix: "kafka.sasl.mechanism=scram-sha-512"})
	}
	if k.TLS.Enabled && k.TLS.InsecureSkipVerify {
		out = append(out, Finding{Check: "security", Severity: Warn,
			Why: "kafka.tls.insecure_skip_verify=true: the brokers' certificates are not verified, so anyone on the path can pose as a broker and read the credentials and the events",
			Fix: "kafka.tls.insecure_skip_verify=false"})
	}
	if (mech == kafka.MechanismPlain || mech == kafka.MechanismOAuthBearer) && !k.TLS.Enabled {
		// Loopback traffic never leaves the machine: a local test setup,
		// but the same file deployed elsewhere would leak the password.
		sev := Error
		if len(k.Brokers) > 0 && len(remote) == 0 {
			sev = Warn
		}
		out = append(out, Finding{Check: "security", Severity: sev,
			Why: "SASL " + strings.ToUpper(mech) + " without TLS: the " + map[string]string{kafka.MechanismPlain: "password", kafka.MechanismOAuthBearer: "bearer token"}[mech] +
				" crosses the network in clear, readable by anyone on the path",
			Fix: "kafka.tls.enabled=true"})
	}
	return out
}

// CertificateExpiry warns of a certificate that expires within 30 days
// and fails on one that has expired: the connection stops working that
// day, for every instance at once.
func CertificateExpiry(in Input) []Finding {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	var out []Finding
	for _, c := range in.Certificates {
		left := c.NotAfter.Sub(now)
		switch {
		case left <= 0:
			out = append(out, Finding{Check: "certificate", Severity: Error,
				Why: fmt.Sprintf("the certificate %q (%s) expired on %s: TLS connections with it fail", c.Subject, c.Source, c.NotAfter.UTC().Format(time.DateOnly)),
				Fix: "renew the certificate"})
		case left < expiryWarning:
			out = append(out, Finding{Check: "certificate", Severity: Warn,
				Why: fmt.Sprintf("the certificate %q (%s) expires on %s, in %d days: TLS connections with it fail from then", c.Subject, c.Source,
					c.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24)),
				Fix: "renew the certificate"})
		}
	}
	return out
}

// remoteBrokers returns the brokers not on this machine's loopback
// interface.
func remoteBrokers(brokers []string) []string {
	var out []string
	for _, b := range brokers {
		host, _, err := net.SplitHostPort(b)
		if err != nil {
			host = b
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			continue
		}
		out = append(out, b)
	}
	return out
}
