package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// ageView is a NodeView with one lookup per node, whatever the path.
type ageView struct {
	nodes   []string
	lookups map[string]policy.ProfileLookup
	calls   int
}

func (v *ageView) Nodes() []*corev1.Node {
	nodes := make([]*corev1.Node, 0, len(v.nodes))
	for _, n := range v.nodes {
		nodes = append(nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	return nodes
}

func (v *ageView) Profile(node, _ string) policy.ProfileLookup {
	v.calls++
	return v.lookups[node]
}

func TestInventoryAgeCollector(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const header = `# HELP seccomp_guard_node_inventory_age_seconds Seconds since this webhook replica last saw the node's agent renew its heartbeat Lease, by node (only nodes with a NodeSeccompInventory; +Inf when no renewal was ever seen). Admission treats the node's inventory as unknown once this exceeds the policy's spec.localhost.staleAfter.
# TYPE seccomp_guard_node_inventory_age_seconds gauge
`
	tests := []struct {
		name    string
		nodes   []string
		lookups map[string]policy.ProfileLookup
		want    string // exposition after the header; "" for no series
	}{
		{
			name: "no nodes",
		},
		{
			name:  "fresh and stale nodes",
			nodes: []string{"a", "b"},
			lookups: map[string]policy.ProfileLookup{
				"a": {HasInventory: true, Heartbeat: now.Add(-15 * time.Second)},
				"b": {HasInventory: true, Heartbeat: now.Add(-10 * time.Minute)},
			},
			want: `seccomp_guard_node_inventory_age_seconds{node="a"} 15
seccomp_guard_node_inventory_age_seconds{node="b"} 600
`,
		},
		{
			name:    "an inventory whose agent was never seen renewing is infinitely old",
			nodes:   []string{"a"},
			lookups: map[string]policy.ProfileLookup{"a": {HasInventory: true, NoHeartbeat: true}},
			want:    "seccomp_guard_node_inventory_age_seconds{node=\"a\"} +Inf\n",
		},
		{
			name:    "a node without an inventory has no series",
			nodes:   []string{"a", "windows"},
			lookups: map[string]policy.ProfileLookup{"a": {HasInventory: true, Heartbeat: now}},
			want:    "seccomp_guard_node_inventory_age_seconds{node=\"a\"} 0\n",
		},
		{
			name:    "a heartbeat ahead of this replica's clock counts as now",
			nodes:   []string{"a"},
			lookups: map[string]policy.ProfileLookup{"a": {HasInventory: true, Heartbeat: now.Add(time.Second)}},
			want:    "seccomp_guard_node_inventory_age_seconds{node=\"a\"} 0\n",
		},
		{
			name:    "a view that does not track liveness reports nothing",
			nodes:   []string{"a"},
			lookups: map[string]policy.ProfileLookup{"a": {HasInventory: true}},
		},
		{
			name:    "an inventory of a node that no longer exists has no series",
			nodes:   []string{"a"},
			lookups: map[string]policy.ProfileLookup{"a": {HasInventory: true, Heartbeat: now}, "gone": {HasInventory: true, Heartbeat: now}},
			want:    "seccomp_guard_node_inventory_age_seconds{node=\"a\"} 0\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(NewInventoryAgeCollector(&ageView{nodes: tc.nodes, lookups: tc.lookups}, func() time.Time { return now }))
			want := ""
			if tc.want != "" {
				want = header + tc.want
			}
			require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), InventoryAgeMetric))
		})
	}
}

// TestInventoryAgeCollectorIsComputedAtScrapeTime: the age grows with the
// clock between scrapes, without any event from the view.
func TestInventoryAgeCollectorIsComputedAtScrapeTime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	view := &ageView{nodes: []string{"a"}, lookups: map[string]policy.ProfileLookup{"a": {HasInventory: true, Heartbeat: now}}}
	c := NewInventoryAgeCollector(view, func() time.Time { return clock })
	assert.InDelta(t, 0, testutil.ToFloat64(c), 0)
	clock = now.Add(5 * time.Minute)
	assert.InDelta(t, 300, testutil.ToFloat64(c), 0)
	assert.Equal(t, 2, view.calls, "one lookup per node per scrape")
}
