package reporter

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	scans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seccomp_guard_reporter_scans_total",
		Help: "Evaluations of the cluster by the reporter, by result (ok, error).",
	}, []string{"result"})
	scanDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "seccomp_guard_reporter_scan_duration_seconds",
		Help:    "Time of one evaluation of the cluster and the writes it caused.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	})
	reportWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "seccomp_guard_reporter_report_writes_total",
		Help: "Reports written by the reporter, by operation (create, update, delete).",
	}, []string{"op"})
	objectsEvaluated = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "seccomp_guard_reporter_objects",
		Help: "Top-level objects evaluated by the last evaluation.",
	})
)

func init() {
	metrics.Registry.MustRegister(scans, scanDuration, reportWrites, objectsEvaluated)
}
