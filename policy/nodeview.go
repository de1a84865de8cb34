package policy

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// NodeView is the engine's read-only view of the cluster's nodes and their
// seccomp inventories. The webhook implements it over an informer-backed
// index, the CLI over manifest files. Implementations must answer from
// memory: the engine calls them on the admission request path.
type NodeView interface {
	// Nodes returns every Node. The engine does not modify them.
	Nodes() []*corev1.Node
	// Profile looks up one profile path (already path.Clean'ed) on one node.
	Profile(nodeName, profilePath string) ProfileLookup
}

// ProfileLookup is what a NodeView knows about one profile on one node.
type ProfileLookup struct {
	// HasInventory is false when the node has no inventory at all.
	HasInventory bool
	// Heartbeat is when the node's agent was last seen alive. The zero time
	// means the view does not track liveness and the inventory counts as fresh.
	Heartbeat time.Time
	// NoHeartbeat is true when the view tracks liveness but has never seen
	// the node's agent renew its Lease: the inventory is unknown.
	NoHeartbeat bool
	// Found is true when the inventory lists the path.
	Found bool
	// Omitted is how many files the inventory leaves out (its Truncated
	// condition): a path it does not list may be one of them.
	Omitted int
	// Profile is the inventory's entry for the path when Found.
	Profile v1alpha1.ProfileStatus
}

// EmptyNodeView knows no nodes. With it, node coverage is not checked:
// every Localhost pod has zero candidate nodes and earns a warning.
type EmptyNodeView struct{}

// Nodes implements NodeView.
func (EmptyNodeView) Nodes() []*corev1.Node { return nil }

// Profile implements NodeView.
func (EmptyNodeView) Profile(string, string) ProfileLookup { return ProfileLookup{} }
