package webhook

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	NewLeaderMetric(reg)
	mismatches, err := monitoring.Mismatches(reg, monitoring.WebhookMetrics)
	require.NoError(t, err)
	assert.Empty(t, mismatches)
}
