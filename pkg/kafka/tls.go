package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Build returns the TLS configuration of c's dials, or nil when TLS is
// disabled. It reads the CA file and the client key pair now, so a missing
// or malformed file is an error here, naming it, and not a handshake
// failure later.
func (c TLSConfig) Build() (*tls.Config, error) {
	if !c.Enabled {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: c.ServerName, // "": franz-go uses the dialed host
		// Every broker this client meets is verified the same way; anyone
		// who needs no verification says so, and is warned at start.
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // opt-in, warned at start and by config doctor
	}
	if c.CAFile != "" {
		pool, err := LoadCA(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		pair, err := LoadKeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// LoadCA reads a PEM file of CA certificates into a pool. A file without a
// certificate is an error: an empty pool would trust nothing and fail every
// handshake with an unhelpful "unknown authority".
func LoadCA(path string) (*x509.CertPool, error) {
	certs, err := ReadCertificates(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ReadCertificates returns every certificate of a PEM file, in file order.
// A file with none is an error.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificates: %w", err)
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing a certificate of %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("reading certificates: %s holds no PEM certificate", path)
	}
	return out, nil
}

// LoadKeyPair reads a PEM client certificate and its private key. Either
// file missing is an error naming the other.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	switch {
	case certFile == "":
		return tls.Certificate{}, errors.New("a client key (kafka.tls.key_file) needs its certificate (kafka.tls.cert_file)")
	case keyFile == "":
		return tls.Certificate{}, errors.New("a client certificate (kafka.tls.cert_file) needs its private key (kafka.tls.key_file)")
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("loading client certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return pair, nil
}
