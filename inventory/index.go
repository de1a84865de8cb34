// Package inventory holds both sides of the node inventory: the agent that
// scans a node's seccomp profiles and reports them (node side), and the
// informer-backed index the webhook answers policy.NodeView queries from
// (cluster side).
package inventory

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Index is the webhook's in-memory view of nodes, their inventories and
// their agents' heartbeats. Informer events keep it current; NodeView
// queries are map lookups under a read lock, and Nodes returns an immutable
// snapshot, so the request path neither calls the API nor scans inventories.
type Index struct {
	now func() time.Time

	mu         sync.RWMutex
	nodes      map[string]*corev1.Node
	byPath     map[string]map[string]v1alpha1.ProfileStatus // profile path -> node -> entry
	inventory  map[string]bool                              // nodes that have an inventory
	omitted    map[string]int                               // node -> files its inventory leaves out (Truncated)
	heartbeats map[string]time.Time                         // node -> when a Lease renewal was observed
	renewals   map[string]string                            // node -> last renewTime seen

	snapshot atomic.Pointer[[]*corev1.Node] // sorted by name; replaced, never modified
}

var _ policy.NodeView = (*Index)(nil)

// NewEmptyIndex returns an index fed by hand (tests) or by informers.
func NewEmptyIndex(now func() time.Time) *Index {
	if now == nil {
		now = time.Now
	}
	ix := &Index{
		now:        now,
		nodes:      map[string]*corev1.Node{},
		byPath:     map[string]map[string]v1alpha1.ProfileStatus{},
		inventory:  map[string]bool{},
		omitted:    map[string]int{},
		heartbeats: map[string]time.Time{},
		renewals:   map[string]string{},
	}
	ix.snapshot.Store(&[]*corev1.Node{})
	return ix
}

// NewIndex builds an index fed by informers of c: Nodes,
// NodeSeccompInventories, and the Leases in leaseNamespace. Register it
// before the cache starts.
func NewIndex(ctx context.Context, c cache.Cache, leaseNamespace string) (*Index, error) {
	ix := NewEmptyIndex(nil)
	handlers := []struct {
		obj client.Object
		h   toolscache.ResourceEventHandlerFuncs
	}{
		{&corev1.Node{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { ix.setNode(o) },
			UpdateFunc: func(_, o any) { ix.setNode(o) },
			DeleteFunc: func(o any) { ix.deleteNode(o) },
		}},
		{&v1alpha1.NodeSeccompInventory{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { ix.setInventory(o) },
			UpdateFunc: func(_, o any) { ix.setInventory(o) },
			DeleteFunc: func(o any) { ix.deleteInventory(o) },
		}},
		{&coordinationv1.Lease{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { ix.setLease(o, leaseNamespace) },
			UpdateFunc: func(_, o any) { ix.setLease(o, leaseNamespace) },
			DeleteFunc: func(o any) { ix.deleteLease(o, leaseNamespace) },
		}},
	}
	for _, h := range handlers {
		inf, err := c.GetInformer(ctx, h.obj, cache.BlockUntilSynced(false))
		if err != nil {
			return nil, fmt.Errorf("watching %T: %w", h.obj, err)
		}
		if _, err := inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("watching %T: %w", h.obj, err)
		}
	}
	return ix, nil
}

// Nodes implements policy.NodeView.
func (ix *Index) Nodes() []*corev1.Node { return *ix.snapshot.Load() }

// Profile implements policy.NodeView.
func (ix *Index) Profile(nodeName, profilePath string) policy.ProfileLookup {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.inventory[nodeName] {
		return policy.ProfileLookup{}
	}
	entry, found := ix.byPath[profilePath][nodeName]
	hb, seen := ix.heartbeats[nodeName]
	// Without an observed Lease renewal the agent may never have run (or
	// its Lease was deleted): the inventory cannot be trusted.
	return policy.ProfileLookup{HasInventory: true, Heartbeat: hb, NoHeartbeat: !seen, Found: found, Profile: entry, Omitted: ix.omitted[nodeName]}
}

func unwrap(o any) any {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return o
}

// SetNode adds or replaces a node.
func (ix *Index) setNode(o any) {
	n, ok := unwrap(o).(*corev1.Node)
	if !ok {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.nodes[n.Name] = n
	ix.rebuildSnapshot()
}

func (ix *Index) deleteNode(o any) {
	n, ok := unwrap(o).(*corev1.Node)
	if !ok {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.nodes, n.Name)
	ix.rebuildSnapshot()
}

func (ix *Index) rebuildSnapshot() {
	nodes := make([]*corev1.Node, 0, len(ix.nodes))
	for _, n := range ix.nodes {
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	ix.snapshot.Store(&nodes)
}

func (ix *Index) setInventory(o any) {
	inv, ok := unwrap(o).(*v1alpha1.NodeSeccompInventory)
	if !ok {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeProfiles(inv.Name)
	ix.inventory[inv.Name] = true
	if n := inv.Status.Omitted(); n > 0 {
		ix.omitted[inv.Name] = n
	} else {
		delete(ix.omitted, inv.Name)
	}
	for _, p := range inv.Status.Profiles {
		byNode := ix.byPath[p.Path]
		if byNode == nil {
			byNode = map[string]v1alpha1.ProfileStatus{}
			ix.byPath[p.Path] = byNode
		}
		byNode[inv.Name] = p
	}
}

func (ix *Index) deleteInventory(o any) {
	inv, ok := unwrap(o).(*v1alpha1.NodeSeccompInventory)
	if !ok {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeProfiles(inv.Name)
	delete(ix.inventory, inv.Name)
	delete(ix.omitted, inv.Name)
}

// removeProfiles drops a node's entries; callers hold the lock.
func (ix *Index) removeProfiles(node string) {
	for p, byNode := range ix.byPath {
		if _, ok := byNode[node]; ok {
			delete(byNode, node)
			if len(byNode) == 0 {
				delete(ix.byPath, p)
			}
		}
	}
}

// leaseHeartbeat reads an agent's heartbeat from a Lease of the release
// namespace, with the one Lease reader the CLI uses too.
func leaseHeartbeat(l *coordinationv1.Lease, namespace string) (policy.Heartbeat, bool) {
	if l.Namespace != namespace {
		return policy.Heartbeat{}, false
	}
	hb, err := policy.ReadLease(l)
	return hb, err == nil
}

// MaxClockSkew bounds how far the webhook trusts an agent's clock, the one
// that wrote a Lease's renewTime, on first sight of the Lease (at webhook
// start, or when a Lease appears): the heartbeat is renewTime plus
// MaxClockSkew, and never later than now. So a Lease whose agent died long
// ago is stale at once, and an agent whose clock runs up to MaxClockSkew
// behind still looks just renewed. An agent whose clock runs further behind
// looks stale until the webhook observes its next renewal (a quarter of its
// --lease-duration later); a renewTime in the future counts as now.
const MaxClockSkew = 10 * time.Second

// setLease records a heartbeat. On first sight of a node's Lease it is the
// Lease's renewTime, bounded by MaxClockSkew (firstSight); after that, it is
// when this process observed a change of renewTime, not the agent's clock,
// as the node-lifecycle controller does.
func (ix *Index) setLease(o any, namespace string) {
	l, ok := unwrap(o).(*coordinationv1.Lease)
	if !ok {
		return
	}
	hb, ok := leaseHeartbeat(l, namespace)
	if !ok {
		return
	}
	node, renew := hb.Node, hb.Renewed.UTC().Format(time.RFC3339Nano)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	prev, seen := ix.renewals[node]
	if seen && prev == renew {
		return
	}
	ix.renewals[node] = renew
	if !seen {
		ix.heartbeats[node] = firstSight(hb.Renewed, ix.now())
		return
	}
	ix.heartbeats[node] = ix.now()
}

// firstSight is the heartbeat of a Lease renewed at renewed (the agent's
// clock) and first seen at now: renewed plus MaxClockSkew, at most now.
func firstSight(renewed, now time.Time) time.Time {
	if t := renewed.Add(MaxClockSkew); t.Before(now) {
		return t
	}
	return now
}

func (ix *Index) deleteLease(o any, namespace string) {
	l, ok := unwrap(o).(*coordinationv1.Lease)
	if !ok {
		return
	}
	if l.Namespace != namespace {
		return
	}
	node, err := policy.LeaseNode(l)
	if err != nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.renewals, node)
	delete(ix.heartbeats, node)
}
