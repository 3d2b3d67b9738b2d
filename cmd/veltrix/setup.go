package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/internal/server"
)

// loadConfig loads the configuration for cmd: its --config file, the
// environment and the flags it registered. What the configuration must be
// warned about (a secret passed as a flag, TLS that verifies nothing) is
// said on stderr, by every command.
func loadConfig(cmd *cobra.Command) (*config.Loaded, error) {
	file, _ := cmd.Flags().GetString("config")
	l, err := config.Load(config.Options{File: file, Flags: cmd.Flags()})
	if err != nil {
		return nil, err
	}
	for _, w := range l.Warnings() {
		fmt.Fprintln(cmd.ErrOrStderr(), "veltrix: WARNING:", w)
	}
	if l.Sources["kafka.client_id"].Layer == "default" {
		id := memberClientID(l.Config.Kafka.ClientID)
		l.Config.Kafka.ClientID, l.Values["kafka.client_id"] = id, id
	}
	return l, nil
}

// memberClientID is the default client id: base, this host's name and
// this process's id, so that the members of a group, and the brokers'
// logs and quotas, tell instances apart (veltrix lag shows who owns
// what by it). A client id the user set is used as it is.
func memberClientID(base string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	host, _, _ = strings.Cut(host, ".")
	host = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, host)
	return fmt.Sprintf("%s-%s-%d", base, host, os.Getpid())
}

// newLogger builds the stderr logger from log.*.
func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serveMetrics starts the metrics server at metrics.addr. When the address
// is the built-in default and taken (another veltrix on this machine), it
// falls back to a free port and says so on stderr, naming the port, so
// whoever scrapes the default port knows where this process went; an
// address the user chose is used exactly or not at all. "" disables the
// server.
func serveMetrics(l *config.Loaded, g prometheus.Gatherer, probes server.Probes, mux *http.ServeMux) (*server.Server, error) {
	addr := l.Config.Metrics.Addr
	if addr == "" {
		return nil, nil
	}
	// The toolkit's info lines (listening, TLS on) repeat what veltrix
	// prints; its errors (a web config file broken while running) must show.
	lc := config.LogConfig{Level: "warn", Format: l.Config.Log.Format}
	if l.Config.Log.Level == "error" {
		lc.Level = "error"
	}
	o := server.Options{WebConfigFile: l.Config.Metrics.WebConfigFile, Logger: newLogger(lc, os.Stderr)}
	s, err := server.Start(addr, g, probes, mux, o)
	if err != nil && l.Sources["metrics.addr"].Layer == "default" {
		taken := err
		s, err = server.Start("127.0.0.1:0", g, probes, mux, o)
		if err == nil {
			fmt.Fprintf(os.Stderr, "veltrix: the default metrics address %s is unavailable (%v); serving metrics on %s instead (set --metrics-addr to choose)\n",
				addr, taken, s.Addr())
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w (set --metrics-addr to another address, or \"\" to disable)", err)
	}
	return s, nil
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM,
// which starts a graceful shutdown. A second signal exits at once.
func signalContext(stderr io.Writer) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(stderr, "veltrix: shutting down (finishing in-flight work; signal again to exit at once)")
		cancel()
		<-ch
		fmt.Fprintln(stderr, "veltrix: second signal, exiting now")
		os.Exit(exitError)
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel()
	}
}
