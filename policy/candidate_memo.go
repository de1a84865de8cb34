package policy

// Candidate sets at cluster scale: a NodeSetView hands the engine one
// immutable list of nodes together with a memo that lives exactly as long
// as that list, so the candidates of a pod are matched against every node
// once per distinct set of scheduling constraints, not once per request,
// and each candidate's inventory entry is looked up by position, not by
// name. The memo is a cache of candidateNodes' result: the same nodes and
// the same constraints give the same candidates, so it changes no decision
// (TestCandidateMemoAgrees).

import (
	"encoding/json"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// NodeSetView is a NodeView that can answer for many nodes at once: the
// webhook's informer-backed index, at thousands of nodes.
type NodeSetView interface {
	NodeView
	// NodeSet returns the current nodes (those Nodes returns) as one
	// immutable set.
	NodeSet() NodeSet
}

// NodeSet is one immutable list of nodes, with a memo of candidate sets
// computed from exactly that list.
type NodeSet interface {
	// Nodes returns the set's nodes. The engine does not modify them.
	Nodes() []*corev1.Node
	// Memo returns the set's candidate memo, which lives as long as the set.
	Memo() *CandidateMemo
	// ProfileAt calls fn, in order, for each position (an index into
	// Nodes) with what the view knows of profilePath on that node, as
	// Profile would answer it. fn must not call back into the view.
	ProfileAt(positions []int32, profilePath string, fn func(k int, l ProfileLookup))
}

const (
	// maxMemoEntries bounds a memo: at 5,000 nodes an entry holds up to
	// 5,000 positions and names (about 100 KB), so a memo stays under 7 MB.
	maxMemoEntries = 64
	// maxMemoKey bounds the scheduling constraints the memo keeps a key
	// for; a pod with larger ones (a caller controls them) is matched
	// without the memo.
	maxMemoKey = 4 << 10
)

// CandidateMemo remembers candidate sets by scheduling constraints for one
// NodeSet. Its zero value is ready to use; it is safe for concurrent use.
type CandidateMemo struct {
	mu      sync.Mutex
	entries map[string]candidates
}

// memoKey is everything candidateNodes reads of a pod spec, besides
// spec.nodeName (a pinned pod needs no matching). It is encoded whole, so a
// field the matching starts reading in a later Kubernetes type is part of
// the key without a change here.
type memoKey struct {
	NodeSelector map[string]string    `json:"s,omitempty"`
	Required     *corev1.NodeSelector `json:"r,omitempty"`
	Tolerations  []corev1.Toleration  `json:"t,omitempty"`
	Daemon       bool                 `json:"d,omitempty"`
}

func candidatesKey(spec *corev1.PodSpec, daemon bool) (string, bool) {
	k := memoKey{NodeSelector: spec.NodeSelector, Tolerations: spec.Tolerations, Daemon: daemon}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil {
		k.Required = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	b, err := json.Marshal(k)
	if err != nil || len(b) > maxMemoKey {
		return "", false
	}
	return string(b), true
}

// candidates returns the pod's candidates in set, from the memo when the
// same constraints were matched against set before.
func (m *CandidateMemo) candidates(set NodeSet, spec *corev1.PodSpec, daemon bool) candidates {
	key, ok := candidatesKey(spec, daemon)
	if !ok {
		return matchNodes(set, set.Nodes(), spec, daemon)
	}
	m.mu.Lock()
	c, found := m.entries[key]
	m.mu.Unlock()
	if found {
		return c
	}
	c = matchNodes(set, set.Nodes(), spec, daemon)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = make(map[string]candidates, 8)
	}
	if len(m.entries) >= maxMemoEntries {
		for k := range m.entries { // evict one, whichever the map yields
			delete(m.entries, k)
			break
		}
	}
	m.entries[key] = c
	return c
}
