package kafkatest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// TestParseSecure reads the line scripts/kafka.sh start-secure prints,
// and never repeats the password in its errors.
func TestParseSecure(t *testing.T) {
	line := "sasl_ssl=127.0.0.1:19192;mtls=127.0.0.1:19194;certs=/tmp/s/certs;" +
		"mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER;user=veltrix;password=pw-123\n"
	s, err := kafkatest.ParseSecure(line)
	if err != nil {
		t.Fatal(err)
	}
	if s.SASLSSL[0] != "127.0.0.1:19192" || s.MTLS[0] != "127.0.0.1:19194" || s.CAFile != "/tmp/s/certs/ca.pem" ||
		s.CertFile != "/tmp/s/certs/client.pem" || s.KeyFile != "/tmp/s/certs/client-key.pem" ||
		len(s.Mechanisms) != 4 || s.User != "veltrix" || s.Password != "pw-123" {
		t.Fatalf("parsed %+v", s)
	}
	_, err = kafkatest.ParseSecure(strings.Replace(line, "mtls=127.0.0.1:19194;", "", 1))
	if err == nil || !strings.Contains(err.Error(), "no mtls") || strings.Contains(err.Error(), "pw-123") {
		t.Fatalf("missing mtls: got %v, want an error naming mtls without the password", err)
	}
}

// TestUnsecuredJWT: the token is what Kafka's unsecured validator parses:
// three dot-separated parts, the last empty, alg none, sub and exp set.
func TestUnsecuredJWT(t *testing.T) {
	parts := strings.Split(kafkatest.UnsecuredJWT("alice", time.Hour), ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("token parts %q", parts)
	}
	var header map[string]string
	var claims map[string]any
	for i, out := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
	if header["alg"] != "none" || claims["sub"] != "alice" || claims["exp"].(float64) <= float64(time.Now().Unix()) {
		t.Fatalf("header %v claims %v", header, claims)
	}
}

// TestSecureBrokerEveryMechanism produces and consumes one record on the
// secure real broker over each SASL mechanism (on SASL_SSL, trusting the
// test CA) and over mutual TLS, with plain franz-go: the broker
// scripts/kafka.sh start-secure runs works as the tests of veltrix's own
// connection settings expect.
func TestSecureBrokerEveryMechanism(t *testing.T) {
	s := kafkatest.Secure(t)
	for _, mech := range kafkatest.SecureMechanisms {
		t.Run(mech, func(t *testing.T) {
			opts := s.ClientOpts(t, mech, s.Password)
			topic := kafkatest.Name(t, "secure")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			if err := kafkatest.CreateTopicsWith(ctx, opts, 1, topic); err != nil {
				t.Fatal(err)
			}

			prod, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(topic))...)
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			want := "over " + mech
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(want)}).FirstErr(); err != nil {
				t.Fatalf("producing over %s: %v", mech, err)
			}

			cons, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			for {
				fs := cons.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					t.Fatalf("consuming over %s: no record before the deadline", mech)
				}
				for _, e := range fs.Errors() {
					t.Fatalf("consuming over %s: partition %d: %v", mech, e.Partition, e.Err)
				}
				if recs := fs.Records(); len(recs) > 0 {
					if got := string(recs[0].Value); got != want {
						t.Fatalf("consumed %q, want %q", got, want)
					}
					return
				}
			}
		})
	}
}

// TestSecureBrokerWrongPassword: a wrong password is refused at once with
// SASL_AUTHENTICATION_FAILED from a ping, for PLAIN and both SCRAMs (a
// produce would only time out), so is an expired OAUTHBEARER token, and no
// client certificate means no connection to the mutual-TLS listener.
func TestSecureBrokerWrongPassword(t *testing.T) {
	s := kafkatest.Secure(t)
	for _, mech := range []string{kafkatest.Plain, kafkatest.ScramSHA256, kafkatest.ScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			cl, err := kgo.NewClient(s.ClientOpts(t, mech, s.Password+"-wrong")...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			began := time.Now()
			err = cl.Ping(ctx)
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Fatalf("ping with a wrong %s password: got %v, want SASL_AUTHENTICATION_FAILED", mech, err)
			}
			t.Logf("%s: refused in %s: %v", mech, time.Since(began).Round(time.Millisecond), err)
		})
	}
	t.Run("oauthbearer-expired-token", func(t *testing.T) {
		// The unsecured validator still checks the claims: an expired
		// token is refused, so the OAUTHBEARER runs prove a token is read.
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.SASLSSL...), kgo.DialTLSConfig(s.TLSConfig(t, false)),
			kgo.SASL(oauth.Auth{Token: kafkatest.UnsecuredJWT(s.User, -time.Hour)}.AsMechanism()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.Ping(ctx); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("ping with an expired token: got %v, want SASL_AUTHENTICATION_FAILED", err)
		} else {
			t.Logf("expired token: %v", err)
		}
	})
	t.Run("mtls-without-certificate", func(t *testing.T) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.MTLS...), kgo.DialTLSConfig(s.TLSConfig(t, false)))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := cl.Ping(ctx); err == nil {
			t.Fatal("ping of the mutual-TLS listener without a client certificate succeeded")
		} else {
			t.Logf("without a client certificate: %v", err)
		}
	})
}
