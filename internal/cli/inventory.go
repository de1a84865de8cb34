package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// LeasePrefix names the agent's Lease of a node: seccomp-guard-<node>.
const LeasePrefix = "seccomp-guard-"

// nodeLeaseNamespace holds the kubelet's own Leases, which say nothing
// about the seccomp-guard agent.
const nodeLeaseNamespace = "kube-node-lease"

type inventory struct {
	view        *policy.StaticNodeView
	newestLease time.Time
	notes       []string
}

// loadInventory builds the NodeView from Node, NodeSeccompInventory and
// Lease manifests. A Lease gives its node's heartbeat (the newest wins); a
// node without one counts as fresh.
func loadInventory(paths []string) (*inventory, error) {
	src, err := LoadInventorySource(paths)
	if err != nil {
		return nil, err
	}
	inv := &inventory{newestLease: src.NewestLease, notes: src.Notes}
	inv.view = policy.NewStaticNodeView(src.Nodes, src.Inventories, src.Heartbeats)
	return inv, nil
}

// InventorySource is a snapshot of the cluster's nodes, their inventories
// and the agents' last Lease renewals.
type InventorySource struct {
	Nodes       []*corev1.Node
	Inventories []*v1alpha1.NodeSeccompInventory
	Heartbeats  map[string]time.Time
	NewestLease time.Time
	Notes       []string
	// LeaseRequired makes a node without a Lease stale (a live cluster);
	// files leave it fresh, as check --inventory does.
	LeaseRequired bool
}

// LoadInventorySource reads Node, NodeSeccompInventory and Lease manifests.
func LoadInventorySource(paths []string) (*InventorySource, error) {
	for _, p := range paths {
		if p == "-" {
			return nil, inputErrorf("--inventory does not read stdin: give a file or directory")
		}
	}
	files, err := manifest.ReadPaths(paths, nil)
	if err != nil {
		return nil, &InputError{Err: fmt.Errorf("--inventory: %w", err)}
	}
	var (
		nodes      []*corev1.Node
		invs       []*v1alpha1.NodeSeccompInventory
		heartbeats = map[string]time.Time{}
		inv        = &InventorySource{}
		ignored    = map[string]int{}
	)
	for _, f := range files {
		for _, obj := range f.Objects {
			switch o := obj.Typed.(type) {
			case *corev1.Node:
				nodes = append(nodes, o)
			case *v1alpha1.NodeSeccompInventory:
				invs = append(invs, o)
			case *coordinationv1.Lease:
				node, at, why := leaseHeartbeat(o)
				if why != "" {
					inv.Notes = append(inv.Notes, fmt.Sprintf("Lease %s/%s at %s is not used: %s", o.Namespace, o.Name, obj.Location(), why))
					continue
				}
				if at.After(heartbeats[node]) {
					heartbeats[node] = at
				}
				if at.After(inv.NewestLease) {
					inv.NewestLease = at
				}
			default:
				ignored[obj.APIVersion+" "+obj.Kind]++
			}
		}
	}
	if len(nodes) == 0 {
		inv.Notes = append(inv.Notes, "the --inventory files hold no Node: only pods with spec.nodeName can be checked against nodes")
	}
	if len(ignored) > 0 {
		inv.Notes = append(inv.Notes, "the --inventory files hold objects that are not Node, NodeSeccompInventory or Lease, which were ignored: "+countList(ignored))
	}
	inv.Nodes, inv.Inventories, inv.Heartbeats = nodes, invs, heartbeats
	return inv, nil
}

// LeaseHeartbeat returns the node a Lease speaks for and its last renewal,
// or why the Lease is not used.
func LeaseHeartbeat(l *coordinationv1.Lease) (string, time.Time, string) {
	return leaseHeartbeat(l)
}

// leaseHeartbeat returns the node a Lease speaks for and its last renewal,
// or why the Lease is not used.
func leaseHeartbeat(l *coordinationv1.Lease) (string, time.Time, string) {
	node, ok := strings.CutPrefix(l.Name, LeasePrefix)
	if !ok || node == "" {
		switch {
		case l.Namespace == nodeLeaseNamespace:
			return "", time.Time{}, "it is a kubelet Lease (namespace kube-node-lease), not the seccomp-guard agent's"
		case l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "":
			return "", time.Time{}, fmt.Sprintf("its name does not start with %q and it has no spec.holderIdentity naming the node", LeasePrefix)
		}
		node = *l.Spec.HolderIdentity
	}
	switch {
	case l.Spec.RenewTime != nil:
		return node, l.Spec.RenewTime.Time, ""
	case l.Spec.AcquireTime != nil:
		return node, l.Spec.AcquireTime.Time, ""
	}
	return "", time.Time{}, "it has neither spec.renewTime nor spec.acquireTime"
}

// countList is "a: 2, b: 1", sorted by key.
func countList(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
