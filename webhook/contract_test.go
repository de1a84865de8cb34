package webhook

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/internal/monitoring"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// TestMetricsContract: the webhook exposes every metric the chart's alerts
// and dashboard query (monitoring.WebhookMetrics), with that type and
// exactly those labels.
func TestMetricsContract(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	now := time.Now()
	reg.MustRegister(NewInventoryAgeCollector(&ageView{nodes: []string{"a"}, lookups: map[string]policy.ProfileLookup{"a": {HasInventory: true, Heartbeat: now}}}, nil))
	m.Record("validate", "Pod", "CREATE", nil, time.Millisecond)
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]*dto.MetricFamily{}
	for _, f := range families {
		got[f.GetName()] = f
	}
	types := map[monitoring.Type]dto.MetricType{monitoring.Counter: dto.MetricType_COUNTER, monitoring.Gauge: dto.MetricType_GAUGE, monitoring.Histogram: dto.MetricType_HISTOGRAM}
	for _, want := range monitoring.WebhookMetrics {
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
