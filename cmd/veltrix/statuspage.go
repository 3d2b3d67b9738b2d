package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/veltrix/veltrix/internal/server"
	statuspage "github.com/veltrix/veltrix/internal/status"
	"github.com/veltrix/veltrix/pkg/processor"
)

// statusMux returns the extra routes of process, demo and the lag
// exporter: the status page of g, titled title, at / and /status. The
// page samples its trends until ctx ends. halts, the Halted of the
// processors in this process, give halted partitions their errors.
func statusMux(ctx context.Context, g prometheus.Gatherer, title string, halts ...func() []processor.Halt) *http.ServeMux {
	mux := http.NewServeMux()
	page := statuspage.New(g, title)
	if len(halts) > 0 {
		page.ShowHaltErrors(func() []processor.Halt {
			var all []processor.Halt
			for _, h := range halts {
				all = append(all, h()...)
			}
			return all
		})
	}
	go func() { _ = page.Run(ctx) }()
	statuspage.Register(mux, page)
	return mux
}

// statusURL is where the status page of srv is.
func statusURL(srv *server.Server) string {
	return strings.TrimSuffix(srv.URL(), "metrics")
}
