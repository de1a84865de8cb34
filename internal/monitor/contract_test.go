package monitor

import (
	"testing"

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
	recordingRecords.WithLabelValues("recorded").Add(0)
	mismatches, err := monitoring.Mismatches(metrics.Registry, monitoring.AgentMetrics)
	require.NoError(t, err)
	assert.Empty(t, mismatches)
}
