// Package inventory holds both sides of the node inventory: the agent that
// scans a node's seccomp profiles and reports them (node side), and the
// informer-backed index the webhook answers policy.NodeView queries from
// (cluster side).
package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
// queries are one map lookup and a binary search under a read lock, and
// Nodes returns an immutable snapshot, so the request path neither calls
// the API nor scans inventories.
//
// The index copies nothing out of the cached objects: a node's entry points
// at its cached inventory's profile list (sorted by path, as
// CacheByObject's transform leaves it; sorted into a copy otherwise), and
// the snapshot at the cached Nodes.
type Index struct {
	now func() time.Time

	mu    sync.RWMutex
	nodes map[string]*nodeState // by node name: whatever is known of the node

	snapshot atomic.Pointer[[]*corev1.Node] // sorted by name; replaced, never modified
}

// nodeState is what the index knows of one node name: its Node, its
// inventory and its agent's heartbeat, each of which may be missing.
type nodeState struct {
	node *corev1.Node

	hasInventory bool
	profiles     []v1alpha1.ProfileStatus // sorted by path; shared, never modified
	omitted      int                      // files the inventory leaves out (Truncated)

	heartbeat time.Time // when a Lease renewal was observed
	renewal   time.Time // the last renewTime seen
	seen      bool      // a Lease renewal was observed
}

func (st *nodeState) empty() bool { return st.node == nil && !st.hasInventory && !st.seen }

var _ policy.NodeView = (*Index)(nil)

// NewEmptyIndex returns an index fed by hand (tests) or by informers.
func NewEmptyIndex(now func() time.Time) *Index {
	if now == nil {
		now = time.Now
	}
	ix := &Index{now: now, nodes: map[string]*nodeState{}}
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
	st := ix.nodes[nodeName]
	if st == nil || !st.hasInventory {
		return policy.ProfileLookup{}
	}
	// Without an observed Lease renewal the agent may never have run (or
	// its Lease was deleted): the inventory cannot be trusted.
	l := policy.ProfileLookup{HasInventory: true, Heartbeat: st.heartbeat, NoHeartbeat: !st.seen, Omitted: st.omitted}
	if i, found := slices.BinarySearchFunc(st.profiles, profilePath, comparePath); found {
		l.Found, l.Profile = true, st.profiles[i]
	}
	return l
}

func comparePath(p v1alpha1.ProfileStatus, path string) int { return strings.Compare(p.Path, path) }

func unwrap(o any) any {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return o
}

// state returns the node's entry, created if missing; callers hold the lock.
func (ix *Index) state(name string) *nodeState {
	st := ix.nodes[name]
	if st == nil {
		st = &nodeState{}
		ix.nodes[name] = st
	}
	return st
}

// forget drops the node's entry once nothing is known of it; callers hold the lock.
func (ix *Index) forget(name string, st *nodeState) {
	if st.empty() {
		delete(ix.nodes, name)
	}
}

// setNode adds or replaces a node: in the snapshot, a copy with the one
// element replaced or inserted (linear in the node count, where re-sorting
// on every Node event would cost n log n each, n squared at start).
func (ix *Index) setNode(o any) {
	n, ok := unwrap(o).(*corev1.Node)
	if !ok {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.state(n.Name).node = n
	old := *ix.snapshot.Load()
	i, found := slices.BinarySearchFunc(old, n.Name, compareNodeName)
	var nodes []*corev1.Node
	if found {
		nodes = slices.Clone(old)
		nodes[i] = n
	} else {
		nodes = make([]*corev1.Node, 0, len(old)+1)
		nodes = append(append(append(nodes, old[:i]...), n), old[i:]...)
	}
	ix.snapshot.Store(&nodes)
}

func compareNodeName(n *corev1.Node, name string) int { return strings.Compare(n.Name, name) }

func (ix *Index) deleteNode(o any) {
	n, ok := unwrap(o).(*corev1.Node)
	if !ok {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if st := ix.nodes[n.Name]; st != nil {
		st.node = nil
		ix.forget(n.Name, st)
	}
	old := *ix.snapshot.Load()
	if i, found := slices.BinarySearchFunc(old, n.Name, compareNodeName); found {
		nodes := slices.Delete(slices.Clone(old), i, i+1)
		ix.snapshot.Store(&nodes)
	}
}

// sortedProfiles returns the profiles sorted by path: the list itself when
// it is (the cache's transform sorts it), else a sorted copy.
func sortedProfiles(profiles []v1alpha1.ProfileStatus) []v1alpha1.ProfileStatus {
	byPath := func(a, b v1alpha1.ProfileStatus) int { return strings.Compare(a.Path, b.Path) }
	if slices.IsSortedFunc(profiles, byPath) {
		return profiles
	}
	profiles = slices.Clone(profiles)
	slices.SortStableFunc(profiles, byPath)
	return profiles
}

func (ix *Index) setInventory(o any) {
	inv, ok := unwrap(o).(*v1alpha1.NodeSeccompInventory)
	if !ok {
		return
	}
	profiles := sortedProfiles(inv.Status.Profiles)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	st := ix.state(inv.Name)
	st.hasInventory = true
	st.omitted = inv.Status.Omitted()
	st.profiles = profiles
}

func (ix *Index) deleteInventory(o any) {
	inv, ok := unwrap(o).(*v1alpha1.NodeSeccompInventory)
	if !ok {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if st := ix.nodes[inv.Name]; st != nil {
		st.hasInventory, st.profiles, st.omitted = false, nil, 0
		ix.forget(inv.Name, st)
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
	ix.mu.Lock()
	defer ix.mu.Unlock()
	st := ix.state(hb.Node)
	if st.seen && st.renewal.Equal(hb.Renewed) {
		return
	}
	first := !st.seen
	st.renewal, st.seen = hb.Renewed, true
	if first {
		st.heartbeat = firstSight(hb.Renewed, ix.now())
		return
	}
	st.heartbeat = ix.now()
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
	if st := ix.nodes[node]; st != nil {
		st.seen, st.heartbeat, st.renewal = false, time.Time{}, time.Time{}
		ix.forget(node, st)
	}
}
