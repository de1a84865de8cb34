package webhook

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// InventoryAgeMetric is the gauge the chart's SeccompGuardNodeInventoryStale
// alert and its dashboard read (internal/monitoring.WebhookMetrics).
const InventoryAgeMetric = "seccomp_guard_node_inventory_age_seconds"

// inventoryAgeCollector reports, at scrape time, how long ago each node's
// agent last renewed its heartbeat Lease, as this replica's NodeView (the
// informer-backed inventory.Index) saw it: the same heartbeat admission
// judges staleness by (policy.ProfileLookup.Heartbeat), so an alert on it
// fires when admission starts treating the node as unknown. It keeps no
// state and starts no informer: each scrape walks Nodes(), so there is at
// most one series per Node that exists and has an inventory. A node whose
// inventory exists but whose agent this replica has never seen renew its
// Lease reports +Inf. Nodes without an inventory are left out (no agent
// runs there, for example a node the agent's nodeSelector excludes).
type inventoryAgeCollector struct {
	nodes policy.NodeView
	now   func() time.Time
	desc  *prometheus.Desc
}

// NewInventoryAgeCollector returns the collector of InventoryAgeMetric over
// nodes; now defaults to time.Now. Register it with the registry the
// metrics endpoint serves (controller-runtime's metrics.Registry).
func NewInventoryAgeCollector(nodes policy.NodeView, now func() time.Time) prometheus.Collector {
	if now == nil {
		now = time.Now
	}
	return &inventoryAgeCollector{
		nodes: nodes,
		now:   now,
		desc: prometheus.NewDesc(InventoryAgeMetric,
			"Seconds since this webhook replica last saw the node's agent renew its heartbeat Lease, by node (only nodes with a NodeSeccompInventory; +Inf when no renewal was ever seen). Admission treats the node's inventory as unknown once this exceeds the policy's spec.localhost.staleAfter.",
			[]string{"node"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *inventoryAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *inventoryAgeCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, n := range c.nodes.Nodes() {
		// The path is irrelevant: only the node's inventory and heartbeat are read.
		l := c.nodes.Profile(n.Name, "")
		if !l.HasInventory {
			continue
		}
		var age float64
		switch {
		case l.NoHeartbeat:
			age = math.Inf(1)
		case l.Heartbeat.IsZero():
			// The view does not track liveness: nothing to report.
			continue
		default:
			age = max(now.Sub(l.Heartbeat).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, age, n.Name)
	}
}
