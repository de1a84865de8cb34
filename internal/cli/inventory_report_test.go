package cli

import (
	"strings"
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

// TestInventorySilentRefusals: profiles whose refusals leave no audit record
// are named per node, as a note (not a problem: admission accepts them).
func TestInventorySilentRefusals(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	prof := func(path string, silent ...string) v1alpha1.ProfileStatus {
		return v1alpha1.ProfileStatus{Path: path, SHA256: "1111", Valid: true, DefaultAction: "SCMP_ACT_ERRNO", SilentActions: silent}
	}
	inv := func(node string, ps ...v1alpha1.ProfileStatus) *v1alpha1.NodeSeccompInventory {
		return &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: v1alpha1.NodeSeccompInventoryStatus{Profiles: ps, Runtime: "containerd"}}
	}
	src := &InventorySource{
		Nodes:       []*corev1.Node{{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, {ObjectMeta: metav1.ObjectMeta{Name: "a"}}},
		Inventories: []*v1alpha1.NodeSeccompInventory{inv("b", prof("app.json", "SCMP_ACT_ERRNO"), prof("logged.json")), inv("a", prof("app.json", "SCMP_ACT_ERRNO", "SCMP_ACT_TRAP"), prof("logged.json"))},
	}
	r := BuildInventoryReport(src, policy.DefaultPolicy(), now)
	assert.Equal(t, map[string][]string{"SCMP_ACT_ERRNO": {"a", "b"}, "SCMP_ACT_TRAP": {"a"}}, r.Profiles[0].Silent)
	assert.Nil(t, r.Profiles[1].Silent)
	var b strings.Builder
	assert.NoError(t, WriteInventoryText(&b, r))
	assert.Contains(t, b.String(), "\nNotes:\n"+
		`  "app.json": its SCMP_ACT_ERRNO refusals leave no audit record on a, b; its SCMP_ACT_TRAP refusals leave no audit record on a, so violation monitoring cannot see them; add "flags": ["SECCOMP_FILTER_FLAG_LOG"] to the profile (runc 1.2 or later, or crun; docs/violations.md#4-silent-refusals)`+"\n")
	assert.NotContains(t, b.String(), `"logged.json":`)
}
