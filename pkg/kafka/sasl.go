package kafka

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Build returns the SASL mechanism of c, or nil for none. The credentials
// are checked to be there, not to be right: only a broker can say that.
func (c SASLConfig) Build() (sasl.Mechanism, error) {
	switch c.Mechanism {
	case "", MechanismNone:
		return nil, nil
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		if c.Username == "" || c.Password == "" {
			return nil, fmt.Errorf("SASL %s needs a username and a password (kafka.sasl.username, kafka.sasl.password)", c.Mechanism)
		}
	case MechanismOAuthBearer:
		if c.OAuth.TokenFile == "" {
			return nil, fmt.Errorf("SASL %s needs a token file (kafka.sasl.oauth.token_file)", c.Mechanism)
		}
		if _, err := ReadToken(c.OAuth.TokenFile); err != nil {
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
	// Called for every connection and re-authentication: a token rotated
	// on disk is used from the next one, with no restart.
	return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
		tok, err := ReadToken(path)
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: tok}, nil
	}), nil
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
