package monitor

import (
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/seccomp-guard/seccomp-guard/internal/monitoring"
	_ "github.com/seccomp-guard/seccomp-guard/inventory" // registers the agent's inventory metrics
)

// TestAgentMetricsContract: the agent (the inventory and this monitor, in
// one binary and registry) exposes every metric the chart's alerts and
// dashboard query (monitoring.AgentMetrics), with that type and exactly
// those labels.
func TestAgentMetricsContract(t *testing.T) {
	// Labelled families appear once they have a sample.
	newSeries(1).inc([5]string{"ns", "Deployment/web", "app", "mkdir", "SCMP_ACT_LOG"})
	unattributed.WithLabelValues("host-process", "mkdir", "SCMP_ACT_LOG").Add(0)
	dropped.WithLabelValues("queue-full").Add(0)
	records.WithLabelValues("netlink").Add(0)
	families, err := metrics.Registry.Gather()
	require.NoError(t, err)
	got := map[string]*dto.MetricFamily{}
	for _, f := range families {
		got[f.GetName()] = f
	}
	types := map[monitoring.Type]dto.MetricType{monitoring.Counter: dto.MetricType_COUNTER, monitoring.Gauge: dto.MetricType_GAUGE, monitoring.Histogram: dto.MetricType_HISTOGRAM}
	for _, want := range monitoring.AgentMetrics {
		t.Run(want.Name, func(t *testing.T) {
			f, ok := got[want.Name]
			require.True(t, ok, "%s is not exposed", want.Name)
			assert.Equal(t, types[want.Type], f.GetType())
			require.NotEmpty(t, f.GetMetric())
			var labels []string
			for _, l := range f.GetMetric()[0].GetLabel() {
				labels = append(labels, l.GetName())
			}
			assert.Equal(t, slices.Sorted(slices.Values(want.Labels)), labels)
		})
	}
}
