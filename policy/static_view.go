package policy

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// StaticNodeView is a NodeView over a fixed set of objects: the manifests
// `seccomp-guard check --inventory` reads, and tests.
type StaticNodeView struct {
	nodes       []*corev1.Node
	byName      map[string]*corev1.Node
	inventories map[string]map[string]v1alpha1.ProfileStatus
	heartbeats  map[string]time.Time
	omitted     map[string]int // node -> files its inventory leaves out
	// requireHeartbeat: a node without a heartbeat is unknown, as in the cluster.
	requireHeartbeat bool
}

var _ NodeView = (*StaticNodeView)(nil)

// NewStaticNodeView indexes nodes and inventories. heartbeats maps a node
// name to its agent's last renewal; a node without one counts as fresh
// unless RequireHeartbeats is called.
func NewStaticNodeView(nodes []*corev1.Node, inventories []*v1alpha1.NodeSeccompInventory, heartbeats map[string]time.Time) *StaticNodeView {
	v := &StaticNodeView{
		byName:      make(map[string]*corev1.Node, len(nodes)),
		inventories: make(map[string]map[string]v1alpha1.ProfileStatus, len(inventories)),
		heartbeats:  heartbeats,
		omitted:     map[string]int{},
	}
	for _, n := range nodes {
		if _, dup := v.byName[n.Name]; !dup {
			v.nodes = append(v.nodes, n)
		}
		v.byName[n.Name] = n
	}
	sort.Slice(v.nodes, func(i, j int) bool { return v.nodes[i].Name < v.nodes[j].Name })
	for _, inv := range inventories {
		entries := make(map[string]v1alpha1.ProfileStatus, len(inv.Status.Profiles))
		for _, p := range inv.Status.Profiles {
			entries[p.Path] = p
		}
		v.inventories[inv.Name] = entries
		v.omitted[inv.Name] = inv.Status.Omitted()
	}
	return v
}

// Nodes implements NodeView.
func (v *StaticNodeView) Nodes() []*corev1.Node { return v.nodes }

// RequireHeartbeats makes a node without a heartbeat unknown ("no heartbeat
// from its agent"), the rule of the cluster, where a node whose agent Lease
// was never seen cannot be trusted. The CLI calls it when its files hold any
// agent Lease. It returns v.
func (v *StaticNodeView) RequireHeartbeats() *StaticNodeView {
	v.requireHeartbeat = true
	return v
}

// Profile implements NodeView.
func (v *StaticNodeView) Profile(nodeName, profilePath string) ProfileLookup {
	entries, ok := v.inventories[nodeName]
	if !ok {
		return ProfileLookup{}
	}
	p, found := entries[profilePath]
	hb, seen := v.heartbeats[nodeName]
	return ProfileLookup{HasInventory: true, Heartbeat: hb, NoHeartbeat: v.requireHeartbeat && !seen, Found: found, Profile: p, Omitted: v.omitted[nodeName]}
}
