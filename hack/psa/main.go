// Command psa is the Pod Security Admission webhook of
// k8s.io/pod-security-admission/cmd/webhook (the version this module's go.mod
// pins, kept equal to the project's k8s.io/api by `make bench-load`), built
// as upstream builds it, with one addition for hack/load: when
// PSA_MALLOCS_ADDR is set, a plain HTTP listener there answers /metrics with
// go_memstats_mallocs_total, the process's allocation count, which the
// upstream webhook's own /metrics (a bare KubeRegistry) does not expose.
// Its own module so that the webhook's dependencies stay out of the
// project's go.mod.
package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register" // as upstream's main
	"k8s.io/pod-security-admission/cmd/webhook/server"
)

func main() {
	if addr := os.Getenv("PSA_MALLOCS_ADDR"); addr != "" {
		go serveMallocs(addr)
	}
	os.Exit(cli.Run(server.NewServerCommand()))
}

// serveMallocs answers /metrics with the allocation count in Prometheus
// text format, as client_golang's Go collector names it.
func serveMallocs(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total %d\n", m.Mallocs)
	})
	if err := http.ListenAndServe(addr, mux); err != nil { //nolint:gosec // loopback, no timeouts needed for one scraper
		fmt.Fprintf(os.Stderr, "PSA_MALLOCS_ADDR %s: %v\n", addr, err)
		os.Exit(1)
	}
}
