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
}

var _ NodeView = (*StaticNodeView)(nil)

// NewStaticNodeView indexes nodes and inventories. heartbeats maps a node
// name to its agent's last renewal; a node without one counts as fresh.
func NewStaticNodeView(nodes []*corev1.Node, inventories []*v1alpha1.NodeSeccompInventory, heartbeats map[string]time.Time) *StaticNodeView {
	v := &StaticNodeView{
		byName:      make(map[string]*corev1.Node, len(nodes)),
		inventories: make(map[string]map[string]v1alpha1.ProfileStatus, len(inventories)),
		heartbeats:  heartbeats,
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
	}
	return v
}

// Nodes implements NodeView.
func (v *StaticNodeView) Nodes() []*corev1.Node { return v.nodes }

// Node returns the named Node, or nil.
func (v *StaticNodeView) Node(name string) *corev1.Node { return v.byName[name] }

// Profile implements NodeView.
func (v *StaticNodeView) Profile(nodeName, profilePath string) ProfileLookup {
	entries, ok := v.inventories[nodeName]
	if !ok {
		return ProfileLookup{}
	}
	p, found := entries[profilePath]
	return ProfileLookup{HasInventory: true, Heartbeat: v.heartbeats[nodeName], Found: found, Profile: p}
}
