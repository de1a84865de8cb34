package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

func TestBuildInventoryReport(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	inv := func(node string, ps ...v1alpha1.ProfileStatus) *v1alpha1.NodeSeccompInventory {
		return &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: v1alpha1.NodeSeccompInventoryStatus{Profiles: ps, Runtime: "containerd"}}
	}
	ok := func(digest string) v1alpha1.ProfileStatus {
		return v1alpha1.ProfileStatus{Path: "p.json", SHA256: digest, Valid: true}
	}
	node := func(name string) *corev1.Node { return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	src := &InventorySource{
		Nodes:         []*corev1.Node{node("a"), node("b"), node("c"), node("d")},
		Inventories:   []*v1alpha1.NodeSeccompInventory{inv("a", ok("1111")), inv("b", ok("2222")), inv("c")},
		Heartbeats:    map[string]time.Time{"a": now, "b": now, "c": now.Add(-time.Hour)},
		LeaseRequired: true,
	}
	r := BuildInventoryReport(src, policy.DefaultPolicy(), now)
	assert.Equal(t, []ProfileReport{{
		Path: "p.json",
		Nodes: []ProfileVerdict{
			{Node: "a", State: policy.NodeOK},
			{Node: "b", State: policy.NodeOK},
			{Node: "c", State: policy.NodeUnknown, Reason: policy.ReasonInventoryUnknown, Detail: "agent last seen 1h0m0s ago"},
			{Node: "d", State: policy.NodeUnknown, Reason: policy.ReasonInventoryUnknown, Detail: "no inventory"},
		},
		Digests: map[string][]string{"1111": {"a"}, "2222": {"b"}}, Drift: true,
	}}, r.Profiles)
	var states []string
	for _, n := range r.Nodes {
		states = append(states, n.Name+": "+n.Reason)
	}
	assert.Equal(t, []string{"a: ", "b: ", "c: agent last seen 1h0m0s ago", "d: no inventory"}, states)
}
