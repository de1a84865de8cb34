package inventory

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"sync"
	"unsafe"
	"weak"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// CacheByObject limits and trims what the webhook caches: Leases only from
// the agents' namespace, and of every object only the fields the webhook
// reads, its strings shared between objects (stripNode, stripInventory,
// stripLease). At 5,000 nodes of 50 profiles each this keeps the caches
// and the index at a third of the heap the whole objects take
// (docs/performance.md, Scale).
func CacheByObject(leaseNamespace string) map[client.Object]cache.ByObject {
	in := newInterner(maxInterned)
	lists := newListInterner()
	return map[client.Object]cache.ByObject{
		&corev1.Node{}: {Transform: func(o any) (any, error) {
			if n, ok := o.(*corev1.Node); ok {
				stripNode(n, in)
			}
			return o, nil
		}},
		&v1alpha1.NodeSeccompInventory{}: {Transform: func(o any) (any, error) {
			if inv, ok := o.(*v1alpha1.NodeSeccompInventory); ok {
				stripInventory(inv, in)
				inv.Status.Profiles = lists.get(inv.Status.Profiles)
			}
			return o, nil
		}},
		&coordinationv1.Lease{}: {
			Namespaces: map[string]cache.Config{leaseNamespace: {}},
			Transform: func(o any) (any, error) {
				if l, ok := o.(*coordinationv1.Lease); ok {
					stripLease(l)
				}
				return o, nil
			},
		},
	}
}

// stripMeta keeps an object's identity (what the informer keys and resumes
// by), its labels and its deletion mark.
func stripMeta(m *metav1.ObjectMeta) {
	*m = metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Labels: m.Labels, DeletionTimestamp: m.DeletionTimestamp,
	}
}

// stripNode trims n, in place, to what the webhook reads of a Node: its
// name, labels, taints and spec.unschedulable (policy/candidates.go), with
// the identity the informer keeps (uid, resourceVersion). Label keys and
// values, and the taints' keys and values, are shared with other Nodes'
// through in.
func stripNode(n *corev1.Node, in *interner) {
	stripMeta(&n.ObjectMeta)
	if len(n.Labels) > 0 {
		labels := make(map[string]string, len(n.Labels))
		for k, v := range n.Labels {
			if v == n.Name {
				v = n.Name // kubernetes.io/hostname: one string with the name
			} else {
				v = in.get(v)
			}
			labels[in.get(k)] = v
		}
		n.Labels = labels
	} else {
		n.Labels = nil
	}
	var taints []corev1.Taint
	if len(n.Spec.Taints) > 0 {
		taints = make([]corev1.Taint, len(n.Spec.Taints))
		for i, t := range n.Spec.Taints {
			taints[i] = corev1.Taint{Key: in.get(t.Key), Value: in.get(t.Value), Effect: corev1.TaintEffect(in.get(string(t.Effect)))}
		}
	}
	n.Spec = corev1.NodeSpec{Taints: taints, Unschedulable: n.Spec.Unschedulable}
	n.Status = corev1.NodeStatus{}
}

// stripInventory trims inv, in place, to what the index reads
// (Index.setInventory): its name, the profiles' path, digest, size,
// validity, reason and default action, sorted by path, the profile count
// and the Truncated condition's type and status. Warnings, silent actions,
// recordings and the other conditions are for people and the reporter, not
// admission.
func stripInventory(inv *v1alpha1.NodeSeccompInventory, in *interner) {
	stripMeta(&inv.ObjectMeta)
	inv.Labels = nil
	st := &inv.Status
	var truncated []metav1.Condition
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.InventoryTruncated {
			truncated = []metav1.Condition{{Type: v1alpha1.InventoryTruncated, Status: metav1.ConditionStatus(in.get(string(c.Status)))}}
			break
		}
	}
	var profiles []v1alpha1.ProfileStatus
	if len(st.Profiles) > 0 {
		// An exact-size copy: decoding leaves the list's capacity up to twice its length.
		profiles = make([]v1alpha1.ProfileStatus, len(st.Profiles))
		for i, p := range st.Profiles {
			profiles[i] = v1alpha1.ProfileStatus{
				Path: in.get(p.Path), SHA256: in.get(p.SHA256), Size: p.Size, Valid: p.Valid,
				Reason: in.get(p.Reason), DefaultAction: in.get(p.DefaultAction),
			}
		}
		slices.SortStableFunc(profiles, func(a, b v1alpha1.ProfileStatus) int { return strings.Compare(a.Path, b.Path) })
	}
	*st = v1alpha1.NodeSeccompInventoryStatus{
		Profiles: profiles, ProfileCount: st.ProfileCount, InvalidCount: st.InvalidCount, Conditions: truncated,
	}
}

// stripLease trims l, in place, to what policy.ReadLease reads.
func stripLease(l *coordinationv1.Lease) {
	stripMeta(&l.ObjectMeta)
	l.Labels = nil
	l.Spec = coordinationv1.LeaseSpec{HolderIdentity: l.Spec.HolderIdentity, RenewTime: l.Spec.RenewTime, AcquireTime: l.Spec.AcquireTime}
}

// listInterner shares equal stripped profile lists between inventories:
// where the Security Profiles Operator installs the same profiles on every
// node, 5,000 inventories hold one list instead of 5,000 copies (32 MB at
// 50 profiles each). It holds the lists weakly: a list no cached inventory
// points at any more is collected, and its entry swept later. Cached
// objects are never modified, so sharing is safe; the index reads the
// lists, and the cache's readers get deep copies.
type listInterner struct {
	mu    sync.Mutex
	lists map[[sha256.Size]byte]weakList
	live  int // entries after the last sweep
}

// weakList is a list held weakly: its first element and its length.
type weakList struct {
	first weak.Pointer[v1alpha1.ProfileStatus]
	n     int
}

func newListInterner() *listInterner {
	return &listInterner{lists: map[[sha256.Size]byte]weakList{}}
}

// get returns a shared list equal to profiles (a stripped, sorted list),
// or profiles itself, remembered for the next equal one.
func (li *listInterner) get(profiles []v1alpha1.ProfileStatus) []v1alpha1.ProfileStatus {
	if li == nil || len(profiles) == 0 {
		return profiles
	}
	key := listKey(profiles)
	li.mu.Lock()
	defer li.mu.Unlock()
	if w, ok := li.lists[key]; ok && w.n == len(profiles) {
		if first := w.first.Value(); first != nil {
			if shared := unsafe.Slice(first, w.n); slices.EqualFunc(shared, profiles, sameEntry) {
				return shared
			}
		}
	}
	if len(li.lists) >= 2*li.live+64 {
		maps.DeleteFunc(li.lists, func(_ [sha256.Size]byte, w weakList) bool { return w.first.Value() == nil })
		li.live = len(li.lists)
	}
	li.lists[key] = weakList{first: weak.Make(&profiles[0]), n: len(profiles)}
	return profiles
}

// sameEntry compares the fields a stripped entry keeps.
func sameEntry(a, b v1alpha1.ProfileStatus) bool {
	return a.Path == b.Path && a.SHA256 == b.SHA256 && a.Size == b.Size && a.Valid == b.Valid &&
		a.Reason == b.Reason && a.DefaultAction == b.DefaultAction && len(a.Warnings) == 0 && len(b.Warnings) == 0 &&
		len(a.SilentActions) == 0 && len(b.SilentActions) == 0
}

// listKey is a digest of the fields sameEntry compares, each length-prefixed.
func listKey(profiles []v1alpha1.ProfileStatus) [sha256.Size]byte {
	h := sha256.New()
	var buf []byte
	for _, p := range profiles {
		buf = buf[:0]
		for _, s := range []string{p.Path, p.SHA256, p.Reason, p.DefaultAction} {
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
		buf = binary.AppendVarint(buf, p.Size)
		if p.Valid {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
		}
		h.Write(buf)
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// maxInterned bounds the strings the webhook's interner keeps for its
// lifetime: label keys and values, taints, profile paths, digests, reasons.
// Past it, strings are kept as decoded (still correct, only not shared).
// 65,536 strings of a typical 40 bytes hold about 6 MiB at most.
const maxInterned = 1 << 16

// interner returns one shared copy of equal strings, so that the label
// keys, zones, instance types, profile paths and digests repeated on
// thousands of objects are held once. Transforms run on each informer's
// goroutine: it locks. A nil interner returns strings as they are.
type interner struct {
	mu      sync.Mutex
	strings map[string]string
	max     int
}

func newInterner(maxStrings int) *interner {
	return &interner{strings: map[string]string{}, max: maxStrings}
}

func (in *interner) get(s string) string {
	if in == nil || s == "" {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if shared, ok := in.strings[s]; ok {
		return shared
	}
	if len(in.strings) >= in.max {
		return s
	}
	s = strings.Clone(s) // not a substring of a larger decoded buffer
	in.strings[s] = s
	return s
}
