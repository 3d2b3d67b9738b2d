// Package server serves /metrics, /healthz and /readyz over HTTP, or over
// HTTPS with basic auth as a Prometheus exporter-toolkit web config file
// says.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
)

// Server is a running metrics and health endpoint.
type Server struct {
	srv *http.Server
	ln  net.Listener
	tls bool // served over HTTPS (the web config file has a tls_server_config)
}

// Options are how Start serves, beyond its routes.
type Options struct {
	// WebConfigFile is a web config file in the Prometheus exporter
	// toolkit's format (tls_server_config, basic_auth_users, ...), the one
	// node_exporter and every other exporter read; "" serves plain HTTP to
	// anyone. The toolkit rereads it on every connection and request, so a
	// renewed certificate or a changed password applies without a restart.
	WebConfigFile string
	// Logger receives the toolkit's lines; nil discards them.
	Logger *slog.Logger
}

// Probes are what /readyz and /healthz ask. A nil func always passes.
type Probes struct {
	// Ready returns nil when the process is ready to be counted as doing
	// its job, else why not (one line): /readyz answers 200 "ready" or 503
	// with that line.
	Ready func() error
	// Live returns nil unless the process is wedged so that only a restart
	// helps, else why (one line): /healthz answers 200 "ok" or 503 with that
	// line. It must not follow the broker (docs/health.md).
	Live func() error
}

// Start listens on addr and serves in the background:
//   - /metrics: everything registered on g, in the Prometheus format;
//   - /healthz: 200 "ok" while probes.Live passes, 503 with its reason;
//   - /readyz: 200 "ready" while probes.Ready passes, 503 with its reason.
//
// mux, when not nil, receives the routes and may carry more of its own;
// every route is behind the same TLS and basic auth.
func Start(addr string, g prometheus.Gatherer, probes Probes, mux *http.ServeMux, o Options) (*Server, error) {
	// Checked here as well as at config load, so a bad file is an error
	// from Start instead of a server that silently never answers.
	tlsOn, err := CheckWebConfig(o.WebConfigFile)
	if err != nil {
		return nil, fmt.Errorf("reading the web config file %s: %w", o.WebConfigFile, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	if mux == nil {
		mux = http.NewServeMux()
	}
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc("/healthz", probe(probes.Live, "ok", "not live: "))
	mux.HandleFunc("/readyz", probe(probes.Ready, "ready", "not ready: "))
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// net/http's own complaints (a plain-HTTP probe of the HTTPS port, a
	// client refusing the certificate) go to the logger, not raw to stderr.
	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}, ln: ln, tls: tlsOn}
	file := o.WebConfigFile
	go func() {
		// With no file the toolkit serves plain HTTP, as before.
		err := web.Serve(ln, s.srv, &web.FlagConfig{WebConfigFile: &file}, logger)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // Serve only fails when the listener breaks; Close reports nothing more useful.
		}
	}()
	return s, nil
}

// probe answers 200 with ok while check passes, else 503 with prefix and
// the check's reason on one line. Probes must not be cached: a Kubernetes
// probe or a load balancer acts on every answer.
func probe(check func() error, ok, prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if check != nil {
			if err := check(); err != nil {
				http.Error(w, prefix+strings.ReplaceAll(err.Error(), "\n", "; "), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, ok)
	}
}

// CheckWebConfig validates a web config file the way the exporter toolkit
// will read it (YAML keys, bcrypt password hashes, readable certificate
// and key that match) and reports whether it turns TLS on. "" is valid
// and means plain HTTP.
func CheckWebConfig(path string) (tls bool, err error) {
	if path == "" {
		return false, nil
	}
	if err := web.Validate(path); err != nil {
		return false, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var c web.Config
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return false, err
	}
	return c.TLSConfig.IsEnabled(), nil
}

// Addr is the address the server listens on, with the real port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the metrics URL, with a host a browser on this machine can open.
func (s *Server) URL() string {
	host, port, _ := net.SplitHostPort(s.Addr())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/metrics"
}

// Close stops the server, waiting at most a few seconds for open requests.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
