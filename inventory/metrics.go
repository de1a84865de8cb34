package inventory

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	lastSync = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "seccomp_guard_agent_last_sync_timestamp_seconds",
		Help: "Unix time of the agent's last successful inventory sync (the inventory in the cluster matches the node).",
	})
	syncErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "seccomp_guard_agent_sync_errors_total",
		Help: "Failed inventory syncs of the agent (each is retried with backoff).",
	})
)

func init() {
	metrics.Registry.MustRegister(lastSync, syncErrors)
}

// serveMetrics serves the agent's metrics (controller-runtime's registry,
// with the Go and process collectors) on addr; "" or "0" disables it.
func serveMetrics(addr string) (func(), error) {
	if addr == "" || addr == "0" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
