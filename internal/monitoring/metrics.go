// Package monitoring is the contract between seccomp-guard's binaries and
// what operators look at: the metrics (names, types, labels) that the
// chart's PrometheusRule and Grafana dashboard query
// (charts/seccomp-guard/templates/monitoring-*.yaml,
// charts/seccomp-guard/dashboards/). Tests hold both sides to it:
// hack/monitoring parses every rule and dashboard query and fails on a
// metric or label that is not listed here; e2e/webhook scrapes the real
// webhook's /metrics for every WebhookMetrics series; the agent's tests
// check AgentMetrics against what the agent registers.
package monitoring

import (
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Type is a Prometheus metric type.
type Type string

// Metric types.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Metric is one metric family a binary exposes.
type Metric struct {
	Name   string
	Type   Type
	Labels []string
}

// Series returns the names of the series the family exposes: its name, or
// for a histogram its _bucket, _sum and _count series.
func (m Metric) Series() []string {
	if m.Type == Histogram {
		return []string{m.Name + "_bucket", m.Name + "_sum", m.Name + "_count"}
	}
	return []string{m.Name}
}

// WebhookMetrics are the webhook's own metrics (webhook/metrics.go,
// webhook/inventory_metrics.go, webhook/elector.go) that the chart queries.
var WebhookMetrics = []Metric{
	{Name: "seccomp_guard_admission_requests_total", Type: Counter, Labels: []string{"webhook", "kind", "operation", "mode", "decision", "reason"}},
	{Name: "seccomp_guard_admission_duration_seconds", Type: Histogram, Labels: []string{"webhook"}},
	{Name: "seccomp_guard_node_inventory_age_seconds", Type: Gauge, Labels: []string{"node"}},
	// 1 while the replica leads (webhook/elector.go), 0 otherwise.
	{Name: "seccomp_guard_webhook_leader", Type: Gauge},
}

// AgentMetrics are the agent's metrics that the chart queries: its
// inventory sync (package inventory) and the seccomp violations it
// attributes (internal/violations).
var AgentMetrics = []Metric{
	// Unix time of the agent's last successful inventory sync; set at least
	// once per --resync, whether or not the inventory changed.
	{Name: "seccomp_guard_agent_last_sync_timestamp_seconds", Type: Gauge},
	{Name: "seccomp_guard_agent_sync_errors_total", Type: Counter},
	{Name: "seccomp_guard_violations_total", Type: Counter, Labels: []string{"namespace", "workload", "container", "syscall", "action"}},
	{Name: "seccomp_guard_violations_unattributed_total", Type: Counter, Labels: []string{"reason", "syscall", "action"}},
	{Name: "seccomp_guard_violation_records_dropped_total", Type: Counter, Labels: []string{"reason"}},
	{Name: "seccomp_guard_violation_records_total", Type: Counter, Labels: []string{"source"}},
	{Name: "seccomp_guard_recording_records_total", Type: Counter, Labels: []string{"result"}},
	{Name: "seccomp_guard_recordings", Type: Gauge},
	{Name: "seccomp_guard_recording_write_errors_total", Type: Counter},
}

// ScrapeSeries are the series Prometheus itself writes for every target.
var ScrapeSeries = []string{"up"}

// TargetLabels are the labels the Prometheus Operator attaches to every
// series scraped through a ServiceMonitor. A metric that carries one of them
// (the agent's namespace and container) needs honorLabels: true, or
// Prometheus renames its own label to exported_<name>.
var TargetLabels = []string{"namespace", "service", "pod", "container", "endpoint", "job", "instance"}

// Mismatches gathers g and says, for each metric of want, how g differs:
// not exposed, another type, other labels. Empty when g exposes them all as
// listed. A labelled family is exposed only once it has a sample.
func Mismatches(g prometheus.Gatherer, want []Metric) ([]string, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, err
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range families {
		got[f.GetName()] = f
	}
	types := map[Type]dto.MetricType{Counter: dto.MetricType_COUNTER, Gauge: dto.MetricType_GAUGE, Histogram: dto.MetricType_HISTOGRAM}
	var out []string
	for _, w := range want {
		f, ok := got[w.Name]
		if !ok || len(f.GetMetric()) == 0 {
			out = append(out, w.Name+" is not exposed")
			continue
		}
		if f.GetType() != types[w.Type] {
			out = append(out, fmt.Sprintf("%s is a %s, want %s", w.Name, f.GetType(), w.Type))
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		if wantLabels := slices.Sorted(slices.Values(w.Labels)); !slices.Equal(labels, wantLabels) {
			out = append(out, fmt.Sprintf("%s has labels %v, want %v", w.Name, labels, wantLabels))
		}
	}
	return out, nil
}
