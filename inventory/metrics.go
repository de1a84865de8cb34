package inventory

import (
	"net/http"

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
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	return serve(addr, "metrics", mux)
}
