package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
)

// fileSuffix turns a secret's key into the key of the file that can hold
// it instead: kafka.sasl.password is also kafka.sasl.password_file, so a
// secret mounted as a file (a Kubernetes Secret) never passes through the
// environment or the command line.
const fileSuffix = "_file"

// secretFor returns the secret setting whose value the file named by key
// holds, when key is such a <secret>_file key.
func secretFor(key string) (Setting, bool) {
	if !strings.HasSuffix(key, fileSuffix) {
		return Setting{}, false
	}
	s, ok := Lookup(strings.TrimSuffix(key, fileSuffix))
	return s, ok && s.Secret
}

// readSecretFiles sets every secret whose <key>_file is set from that
// file, read now (once, at start). The secret then has the file key's
// source. Setting both is a problem: which one wins would be a guess.
func readSecretFiles(l *Loaded) []Problem {
	var out []Problem
	for _, s := range Schema {
		if !s.Secret {
			continue
		}
		fk := s.Key + fileSuffix
		path, _ := l.Values[fk].(string)
		if path == "" {
			continue
		}
		bad := func(rule string) {
			out = append(out, Problem{Key: fk, Value: path, Source: l.Sources[fk], Rule: rule})
		}
		if v, _ := l.Values[s.Key].(string); v != "" {
			bad(fmt.Sprintf("%s is set too (from %s); set one of them", s.Key, l.Sources[s.Key]))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			bad(fileRule(err))
			continue
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			bad("the file is empty")
			continue
		}
		l.Values[s.Key] = v
		l.Sources[s.Key] = l.Sources[fk]
	}
	return out
}

// fileRule says in words why a file named by a setting cannot be read.
func fileRule(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "file does not exist"
	case errors.As(err, &pe):
		return "cannot read file: " + pe.Err.Error()
	}
	return "cannot read file: " + err.Error()
}

// Warnings are what every command says on stderr before it starts: a
// secret given as a flag, which every user of the machine can read in
// ps, a token endpoint asked in clear, and TLS that verifies nothing.
func (l *Loaded) Warnings() []string {
	var out []string
	for _, s := range Schema {
		if src := l.Sources[s.Key]; s.Secret && src.Layer == "flag" {
			out = append(out, fmt.Sprintf("%s was given as a flag (--%s): any user of this machine can read it in ps; use %s or %s%s instead",
				s.Key, src.Name, EnvName(s.Key), s.Key, fileSuffix))
		}
	}
	if u, _ := l.Values["kafka.sasl.oauth.token_url"].(string); cleartextRemote(u) {
		out = append(out, fmt.Sprintf("kafka.sasl.oauth.token_url=%s is plain http to another machine: the client secret and the tokens cross the network in clear; use https", u))
	}
	if v, _ := l.Values["kafka.tls.insecure_skip_verify"].(bool); v {
		out = append(out, "kafka.tls.insecure_skip_verify=true: the brokers' certificates are NOT verified; anyone on the network path can read and change the traffic, credentials included. Use it for tests only; set kafka.tls.ca_file instead")
	}
	return out
}

// redactValue reports whether a problem's value may be a secret and must
// not be shown: a secret key's, or an unknown key's or variable's that
// looks like a misspelt secret.
func (p Problem) redactValue() bool {
	if s, ok := Lookup(p.Key); ok {
		return s.Secret
	}
	if p.Suggest != "" {
		for _, s := range Schema {
			if s.Secret && (p.Suggest == s.Key || p.Suggest == EnvName(s.Key)) {
				return true
			}
		}
	}
	k := strings.ToLower(p.Key)
	if strings.HasSuffix(k, fileSuffix) {
		return false
	}
	for _, w := range []string{"pass", "secret", "token", "credential"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// cleartextRemote reports whether u is an http URL to a host other than
// a loopback one: a token endpoint in a sidecar on the same machine may
// speak plain http, any other must not.
func cleartextRemote(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" || p.Hostname() == "" {
		return false
	}
	if p.Hostname() == "localhost" {
		return false
	}
	ip := net.ParseIP(p.Hostname())
	return ip == nil || !ip.IsLoopback()
}
