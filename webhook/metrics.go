package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Recorder receives one observation per admission request.
type Recorder interface {
	Record(webhook, kind, operation string, d *policy.Decision, elapsed time.Duration)
}

// Metrics are the webhook's Prometheus metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

var _ Recorder = (*Metrics)(nil)

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "seccomp_guard",
			Name:      "admission_requests_total",
			Help:      "Admission requests by webhook (mutate, validate), kind, operation, mode, decision (allowed, denied, would-deny, skipped, error) and reason code (one count per reason found; empty when none).",
		}, []string{"webhook", "kind", "operation", "mode", "decision", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "seccomp_guard",
			Name:      "admission_duration_seconds",
			Help:      "Time spent deciding an admission request, from decoded request to response, by webhook.",
			// Up to 25s: the chart's SeccompGuardWebhookSlow alert compares
			// the 99th percentile with 0.8 of the webhook's timeout (1-30s),
			// which a histogram whose last finite bucket is lower cannot exceed.
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5, 10, 25},
		}, []string{"webhook"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// Record implements Recorder.
func (m *Metrics) Record(webhook, kind, operation string, d *policy.Decision, elapsed time.Duration) {
	m.latency.WithLabelValues(webhook).Observe(elapsed.Seconds())
	kind, operation = boundedLabel(kind, knownKinds), boundedLabel(operation, knownOperations)
	mode, verdict := "", "error"
	if d != nil {
		mode, verdict = string(d.Mode), d.Verdict()
	}
	if d == nil || len(d.Violations) == 0 {
		m.requests.WithLabelValues(webhook, kind, operation, mode, verdict, "").Inc()
		return
	}
	seen := make(map[policy.Reason]bool, len(d.Violations))
	for _, v := range d.Violations {
		if seen[v.Reason] {
			continue
		}
		seen[v.Reason] = true
		m.requests.WithLabelValues(webhook, kind, operation, mode, verdict, string(v.Reason)).Inc()
	}
}

// Label values a caller controls (request.kind.kind, request.operation) are
// mapped to a fixed set, with "other" for the rest, so that a flood of
// invented kinds cannot grow the number of series.
var (
	knownKinds = func() map[string]bool {
		m := map[string]bool{}
		for _, k := range policy.Kinds() {
			m[k.Kind] = true
		}
		return m
	}()
	knownOperations = map[string]bool{"CREATE": true, "UPDATE": true, "DELETE": true, "CONNECT": true}
)

func boundedLabel(value string, known map[string]bool) string {
	if known[value] {
		return value
	}
	return "other"
}
