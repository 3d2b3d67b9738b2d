package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/veltrix/veltrix/internal/server"
	"github.com/veltrix/veltrix/internal/tooltest"
)

// testCerts writes a CA (ca.pem) and a server certificate it signed for
// 127.0.0.1 and localhost (server.pem, server-key.pem) into dir.
func testCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "veltrix test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", leafDER), write("server-key.pem", "PRIVATE KEY", keyDER)
}

// secured starts a server behind a web config file with TLS and basic auth
// for user prom with password, exporting veltrix_web_config_test 42 and a
// status page at /; it returns the server and the CA file.
func secured(t *testing.T, password string) (*server.Server, string) {
	t.Helper()
	dir := t.TempDir()
	caFile, certFile, keyFile := testCerts(t, dir)
	// The lowest bcrypt cost keeps a scrape cheap; the toolkit caches the
	// check anyway.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	// Relative paths: the toolkit resolves them against the file's directory.
	body := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prom: %s\n",
		filepath.Base(certFile), filepath.Base(keyFile), hash)
	if err := os.WriteFile(webConfig, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "veltrix_web_config_test", Help: "A value the test scrapes."})
	g.Set(42)
	reg.MustRegister(g)
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "status page") })
	srv, err := server.Start("127.0.0.1:0", reg, server.Probes{}, mux, server.Options{WebConfigFile: webConfig})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, caFile
}

// TestWebConfigTLSAndBasicAuth: with a web config file every route —
// /metrics, /healthz, /readyz and the status page — answers only over
// HTTPS and only with the right basic-auth password; a wrong one gets 401
// and plain HTTP gets no data.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	srv, caFile := secured(t, "scrape-secret")
	if !strings.HasPrefix(srv.URL(), "https://") {
		t.Errorf("URL %s: want https, the scheme the server speaks", srv.URL())
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(cl *http.Client, rawURL, user, pass string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", rawURL, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	base := "https://" + srv.Addr()
	for path, want := range map[string]string{"/metrics": "veltrix_web_config_test 42", "/healthz": "ok", "/readyz": "ready", "/": "status page"} {
		if code, body := get(client, base+path, "prom", "scrape-secret"); code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("%s with the password: %d %q, want 200 with %q", path, code, body, want)
		}
		for _, cred := range [][2]string{{"prom", "wrong"}, {"nobody", "scrape-secret"}, {"", ""}} {
			if code, body := get(client, base+path, cred[0], cred[1]); code != http.StatusUnauthorized || strings.Contains(body, want) {
				t.Errorf("%s as %q/%q: %d %q, want 401 and no content", path, cred[0], cred[1], code, body)
			}
		}
	}
	// Plain HTTP on the HTTPS port: Go's server answers 400 and nothing else.
	if code, body := get(http.DefaultClient, "http://"+srv.Addr()+"/metrics", "prom", "scrape-secret"); code != http.StatusBadRequest || strings.Contains(body, "veltrix_web_config_test") {
		t.Errorf("plain HTTP: %d %q, want 400 without metrics", code, body)
	}
	// A client that does not trust the CA is refused before any request.
	if _, err := http.Get(base + "/metrics"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("GET without trusting the CA: %v, want a certificate error", err)
	}
}

// TestStartRefusesBadWebConfig: a file the toolkit cannot serve from
// fails Start instead of leaving a server that never answers.
func TestStartRefusesBadWebConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(bad, []byte("basic_auth_users:\n  prom: not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := server.Start("127.0.0.1:0", prometheus.NewRegistry(), server.Probes{}, nil, server.Options{WebConfigFile: bad})
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Start with %s: %v, want an error naming the file", bad, err)
	}
}

// target is one scrape target in Prometheus's /api/v1/targets answer.
type target struct {
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
}

// TestRealPrometheusScrapesOverTLSWithBasicAuth runs a real Prometheus
// against a server behind a web config file, configured the way an
// operator would (scheme https, tls_config.ca_file, basic_auth): the job
// with the right password scrapes the value, the one with a wrong password
// is down with 401, and the one speaking plain HTTP is down with 400.
func TestRealPrometheusScrapesOverTLSWithBasicAuth(t *testing.T) {
	promBin := tooltest.Need(t, "prometheus")
	srv, caFile := secured(t, "scrape-secret")
	dir := t.TempDir()
	job := func(name, scheme, password string) string {
		return fmt.Sprintf("  - job_name: %s\n    scheme: %s\n    tls_config: {ca_file: %q}\n"+
			"    basic_auth: {username: prom, password: %q}\n    static_configs: [{targets: [%q]}]\n",
			name, scheme, caFile, password, srv.Addr())
	}
	cfg := "global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n" +
		job("good", "https", "scrape-secret") + job("wrong-password", "https", "wrong") + job("plain-http", "http", "scrape-secret")
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	cmd := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr, "--log.level=warn")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	api := "http://" + promAddr + "/api/v1/"
	apiGet := func(path string, v any) error {
		resp, err := http.Get(api + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var env struct {
			Status string          `json:"status"`
			Data   json.RawMessage `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			return err
		}
		if env.Status != "success" {
			return fmt.Errorf("status %s", env.Status)
		}
		return json.Unmarshal(env.Data, v)
	}

	// Wait until every job has been scraped at least once (health leaves
	// "unknown"), and the good one has succeeded.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var byJob map[string]target
	for {
		var d struct {
			ActiveTargets []target `json:"activeTargets"`
		}
		err := apiGet("targets", &d)
		byJob = map[string]target{}
		for _, tg := range d.ActiveTargets {
			byJob[tg.Labels["job"]] = tg
		}
		if err == nil && byJob["good"].Health == "up" && byJob["wrong-password"].Health == "down" && byJob["plain-http"].Health == "down" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("targets never settled: %+v (last error %v)", byJob, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if e := byJob["wrong-password"].LastError; !strings.Contains(e, "401") {
		t.Errorf("wrong password: last error %q, want 401", e)
	}
	if e := byJob["plain-http"].LastError; !strings.Contains(e, "400") {
		t.Errorf("plain HTTP: last error %q, want 400", e)
	}
	t.Logf("wrong password: %s; plain HTTP: %s", byJob["wrong-password"].LastError, byJob["plain-http"].LastError)

	// The scraped value is in Prometheus, from the good job only.
	var q struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	for {
		err := apiGet("query?query="+url.QueryEscape("veltrix_web_config_test"), &q)
		if err == nil && len(q.Result) > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("veltrix_web_config_test never stored: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(q.Result) != 1 || q.Result[0].Metric["job"] != "good" || q.Result[0].Value[1] != "42" {
		t.Errorf("stored series %+v, want one from job good with value 42", q.Result)
	}
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestProbesSayWhy: /readyz and /healthz answer 200 while their checks
// pass and 503 with the check's reason on one line when they fail; a nil
// check always passes.
func TestProbesSayWhy(t *testing.T) {
	var (
		mu          sync.Mutex
		ready, live error
	)
	check := func(e *error) func() error {
		return func() error {
			mu.Lock()
			defer mu.Unlock()
			return *e
		}
	}
	srv, err := server.Start("127.0.0.1:0", prometheus.NewRegistry(), server.Probes{Ready: check(&ready), Live: check(&live)}, nil, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		ready, live error
		path        string
		code        int
		body        string
	}{
		{nil, nil, "/readyz", 200, "ready\n"},
		{nil, nil, "/healthz", 200, "ok\n"},
		{errors.New("no broker has answered for 7s"), nil, "/readyz", 503, "not ready: no broker has answered for 7s\n"},
		{errors.New("no broker has answered for 7s"), nil, "/healthz", 200, "ok\n"},
		{nil, errors.New("wedged: partition 3\nsecond line"), "/healthz", 503, "not live: wedged: partition 3; second line\n"},
	} {
		mu.Lock()
		ready, live = tc.ready, tc.live
		mu.Unlock()
		if code, body := get(tc.path); code != tc.code || body != tc.body {
			t.Errorf("ready %v, live %v: %s answered %d %q, want %d %q", tc.ready, tc.live, tc.path, code, body, tc.code, tc.body)
		}
	}
	open, err := server.Start("127.0.0.1:0", prometheus.NewRegistry(), server.Probes{}, nil, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	for _, path := range []string{"/readyz", "/healthz"} {
		resp, err := http.Get("http://" + open.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s with no check answered %d", path, resp.StatusCode)
		}
	}
}
