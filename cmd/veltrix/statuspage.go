package main

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/internal/server"
	statuspage "github.com/veltrix/veltrix/internal/status"
)

// statusMux returns the extra routes of process and demo: the status page
// of g, titled title, at / and /status.
func statusMux(g prometheus.Gatherer, title string) *http.ServeMux {
	mux := http.NewServeMux()
	statuspage.Register(mux, statuspage.New(g, title))
	return mux
}

// statusURL is where the status page of srv is.
func statusURL(srv *server.Server) string {
	return strings.TrimSuffix(srv.URL(), "metrics")
}
