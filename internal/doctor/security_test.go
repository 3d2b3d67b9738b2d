package doctor

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/tlstest"
	"github.com/veltrix/veltrix/pkg/kafka"
)

func TestSecurity(t *testing.T) {
	remote := []string{"10.0.0.7:9093", "127.0.0.1:9092"}
	local := []string{"127.0.0.1:9092", "localhost:9093", "[::1]:9092"}
	for _, tc := range []struct {
		name  string
		mod   func(k *kafka.Config)
		wants []want
	}{
		{"no brokers", nil, nil},
		{"loopback plaintext", func(k *kafka.Config) { k.Brokers = local }, nil},
		{"remote plaintext, no auth", func(k *kafka.Config) { k.Brokers = remote },
			[]want{{"security", Warn, "10.0.0.7:9093 are reached in plaintext", "kafka.tls.enabled=true"},
				{"security", Warn, "does not authenticate to the brokers at 10.0.0.7:9093", "kafka.sasl.mechanism=scram-sha-512"}}},
		{"remote tls and scram", func(k *kafka.Config) {
			k.Brokers = remote
			k.TLS.Enabled = true
			k.SASL = kafka.SASLConfig{Mechanism: "scram-sha-512", Username: "u", Password: "p"}
		}, nil},
		{"remote mutual tls", func(k *kafka.Config) {
			k.Brokers = remote
			k.TLS = kafka.TLSConfig{Enabled: true, CertFile: "c.pem", KeyFile: "k.pem"}
		}, nil},
		{"insecure skip verify", func(k *kafka.Config) {
			k.Brokers = local
			k.TLS = kafka.TLSConfig{Enabled: true, InsecureSkipVerify: true}
		}, []want{{"security", Warn, "certificates are not verified", "kafka.tls.insecure_skip_verify=false"}}},
		{"plain without tls, remote", func(k *kafka.Config) {
			k.Brokers = remote
			k.SASL = kafka.SASLConfig{Mechanism: "plain", Username: "u", Password: "p"}
		}, []want{{"security", Error, "password crosses the network in clear", "kafka.tls.enabled=true"},
			{"security", Warn, "reached in plaintext", "kafka.tls.enabled=true"}}},
		{"plain without tls, no brokers given", func(k *kafka.Config) {
			k.SASL = kafka.SASLConfig{Mechanism: "plain", Username: "u", Password: "p"}
		}, []want{{"security", Error, "password crosses the network in clear", "kafka.tls.enabled=true"}}},
		{"oauthbearer without tls, remote", func(k *kafka.Config) {
			k.Brokers = remote
			k.SASL = kafka.SASLConfig{Mechanism: "oauthbearer"}
		}, []want{{"security", Error, "SASL OAUTHBEARER without TLS: the bearer token crosses the network in clear", "kafka.tls.enabled=true"},
			{"security", Warn, "reached in plaintext", "kafka.tls.enabled=true"}}},
		{"plain without tls, loopback", func(k *kafka.Config) {
			k.Brokers = local
			k.SASL = kafka.SASLConfig{Mechanism: "plain", Username: "u", Password: "p"}
		}, []want{{"security", Warn, "password crosses the network in clear", "kafka.tls.enabled=true"}}},
		{"plain over tls", func(k *kafka.Config) {
			k.Brokers = remote
			k.TLS.Enabled = true
			k.SASL = kafka.SASLConfig{Mechanism: "plain", Username: "u", Password: "p"}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mod func(c *config.Config)
			if tc.mod != nil {
				mod = func(c *config.Config) { tc.mod(&c.Kafka) }
			}
			expect(t, Security(in(mod, nil, 0)), tc.wants...)
		})
	}
}

func TestCertificateExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	in := Input{Now: now, Certificates: []Certificate{
		{Source: "kafka.tls.ca_file ca.pem", Subject: "ca", NotAfter: now.AddDate(5, 0, 0)},
		{Source: "kafka.tls.cert_file c.pem", Subject: "alice", NotAfter: now.AddDate(0, 0, 12)},
		{Source: "broker b:9093", Subject: "b", NotAfter: now.AddDate(0, 0, -1)},
		{Source: "broker c:9093", Subject: "c", NotAfter: now.AddDate(0, 0, 31)},
	}}
	expect(t, CertificateExpiry(in),
		want{"certificate", Warn, `"alice" (kafka.tls.cert_file c.pem) expires on 2026-03-13, in 12 days`, "renew the certificate"},
		want{"certificate", Error, `"b" (broker b:9093) expired on 2026-02-28`, "renew the certificate"})
}

// TestReadCertificates reads the client's files and a live broker's
// certificate.
func TestReadCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	caFile := ca.WriteCA(t, dir)
	soon := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	cert, key := ca.Issue(t, tlstest.Options{CommonName: "alice", NotAfter: soon}).Write(t, dir, "alice")
	tc := kafka.TLSConfig{Enabled: true, CAFile: caFile, CertFile: cert, KeyFile: key}
	got, err := ReadCertificates(tc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Subject != "veltrix test CA" || got[1].Subject != "alice" || !got[1].NotAfter.Equal(soon) {
		t.Fatalf("got %+v", got)
	}
	server := ca.Issue(t, tlstest.Options{Server: true, DNSNames: []string{"localhost"}, NotAfter: soon})
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(tlstest.ServerConfig(server, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	for i, b := range brokers {
		brokers[i] = "localhost" + b[len("127.0.0.1"):]
	}
	bc := BrokerCertificates(context.Background(), kafka.Config{Brokers: brokers, ConnectTimeout: 5 * time.Second, TLS: tc})
	if len(bc) != 1 || bc[0].Subject != "server" || !bc[0].NotAfter.Equal(soon) || bc[0].Source != "broker "+brokers[0] {
		t.Fatalf("broker certificates %+v", bc)
	}
}
