// Package inventory holds both sides of the node inventory: the agent that
// scans a node's seccomp profiles and reports them (node side), and the
// informer-backed index the webhook answers policy.NodeView queries from
// (cluster side).
package inventory

import (
	"context"
	"fmt"
	"maps"
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

	snapshot atomic.Pointer[nodeSet] // replaced, never modified
}

// nodeSet is one snapshot of the nodes, sorted by name, with each node's
// entry alongside and the candidate memo of policy.NodeSet. It is replaced
// when a node appears, goes, or changes what scheduling reads of it (labels,
// taints, spec.unschedulable; stripNode keeps nothing else the engine
// reads), so a node's status updates keep the snapshot and its memo.
type nodeSet struct {
	ix     *Index
	nodes  []*corev1.Node
	states []*nodeState // states[i] is nodes[i]'s entry, for as long as the set is current
	memo   policy.CandidateMemo
}

var _ policy.NodeSet = (*nodeSet)(nil)

// Nodes implements policy.NodeSet.
func (s *nodeSet) Nodes() []*corev1.Node { return s.nodes }

// Memo implements policy.NodeSet.
func (s *nodeSet) Memo() *policy.CandidateMemo { return &s.memo }

// ProfileAt implements policy.NodeSet: under one read lock, each node's
// entry by position, no map lookup by name; and one binary search per
// distinct profile list, since nodes that report the same files share one
// list (listInterner), consecutive candidates usually hit the one just
// searched.
func (s *nodeSet) ProfileAt(positions []int32, profilePath string, fn func(int, policy.ProfileLookup)) {
	s.ix.mu.RLock()
	defer s.ix.mu.RUnlock()
	var last []v1alpha1.ProfileStatus
	lastAt, lastFound := 0, false
	for k, pos := range positions {
		st := s.states[pos]
		if !st.hasInventory {
			fn(k, policy.ProfileLookup{})
			continue
		}
		l := st.lookup()
		if len(st.profiles) > 0 && (len(last) == 0 || &st.profiles[0] != &last[0] || len(st.profiles) != len(last)) {
			last = st.profiles
			lastAt, lastFound = searchPath(last, profilePath)
		}
		if len(st.profiles) > 0 && lastFound {
			l.Found, l.Profile = true, last[lastAt]
		}
		fn(k, l)
	}
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

var _ policy.NodeSetView = (*Index)(nil)

// NewEmptyIndex returns an index fed by hand (tests) or by informers.
func NewEmptyIndex(now func() time.Time) *Index {
	if now == nil {
		now = time.Now
	}
	ix := &Index{now: now, nodes: map[string]*nodeState{}}
	ix.snapshot.Store(&nodeSet{ix: ix})
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
func (ix *Index) Nodes() []*corev1.Node { return ix.snapshot.Load().nodes }

// NodeSet implements policy.NodeSetView.
func (ix *Index) NodeSet() policy.NodeSet { return ix.snapshot.Load() }

// Profile implements policy.NodeView.
func (ix *Index) Profile(nodeName, profilePath string) policy.ProfileLookup {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.nodes[nodeName]
	if st == nil || !st.hasInventory {
		return policy.ProfileLookup{}
	}
	l := st.lookup()
	if i, found := searchPath(st.profiles, profilePath); found {
		l.Found, l.Profile = true, st.profiles[i]
	}
	return l
}

// lookup is what the entry says of any profile before its list is searched;
// callers hold the lock and have checked hasInventory.
func (st *nodeState) lookup() policy.ProfileLookup {
	// Without an observed Lease renewal the agent may never have run (or
	// its Lease was deleted): the inventory cannot be trusted.
	return policy.ProfileLookup{HasInventory: true, Heartbeat: st.heartbeat, NoHeartbeat: !st.seen, Omitted: st.omitted}
}

// searchPath finds path in profiles, sorted by path. By index, not
// slices.BinarySearchFunc, whose comparison takes each entry by value.
func searchPath(profiles []v1alpha1.ProfileStatus, path string) (int, bool) {
	lo, hi := 0, len(profiles)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if profiles[m].Path < path {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(profiles) && profiles[lo].Path == path
}

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
// on every Node event would cost n log n each, n squared at start). An
// update that changes nothing scheduling reads keeps the snapshot.
func (ix *Index) setNode(o any) {
	n, ok := unwrap(o).(*corev1.Node)
	if !ok {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	st := ix.state(n.Name)
	if st.node != nil && sameScheduling(st.node, n) {
		return
	}
	st.node = n
	old := ix.snapshot.Load()
	i, found := slices.BinarySearchFunc(old.nodes, n.Name, compareNodeName)
	next := &nodeSet{ix: ix}
	if found {
		next.nodes, next.states = slices.Clone(old.nodes), slices.Clone(old.states)
		next.nodes[i], next.states[i] = n, st
	} else {
		next.nodes = slices.Insert(slices.Clip(old.nodes), i, n)
		next.states = slices.Insert(slices.Clip(old.states), i, st)
	}
	ix.snapshot.Store(next)
}

// sameScheduling is whether two versions of a node look the same to the
// engine: name, labels, taints and spec.unschedulable, all it reads of a
// Node (policy/candidates.go).
func sameScheduling(a, b *corev1.Node) bool {
	return a.Name == b.Name && a.Spec.Unschedulable == b.Spec.Unschedulable &&
		maps.Equal(a.Labels, b.Labels) && slices.EqualFunc(a.Spec.Taints, b.Spec.Taints, sameTaint)
}

func sameTaint(a, b corev1.Taint) bool {
	return a.Key == b.Key && a.Value == b.Value && a.Effect == b.Effect && a.TimeAdded.Equal(b.TimeAdded)
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
	old := ix.snapshot.Load()
	if i, found := slices.BinarySearchFunc(old.nodes, n.Name, compareNodeName); found {
		ix.snapshot.Store(&nodeSet{
			ix:     ix,
			nodes:  slices.Delete(slices.Clone(old.nodes), i, i+1),
			states: slices.Delete(slices.Clone(old.states), i, i+1),
		})
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
