package inventory

import (
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// diffCluster is a small cluster with every shape the policy tells apart:
// zones, a tainted pool, a condition taint, an unschedulable node, a
// PreferNoSchedule taint; inventories listed out of order, with warnings,
// silent actions, recordings, a Truncated one, invalid profiles, drift;
// fresh, stale and missing heartbeats, and a Lease held by someone else.
func diffCluster(now time.Time) (nodes []*corev1.Node, invs []*v1alpha1.NodeSeccompInventory, leases []*coordinationv1.Lease) {
	web := v1alpha1.ProfileStatus{Path: "operator/web.json", SHA256: strings.Repeat("a", 64), Size: 100, Valid: true, DefaultAction: "SCMP_ACT_ERRNO",
		Warnings: []string{"archMap is ignored"}, SilentActions: []string{"SCMP_ACT_ERRNO"}}
	drifted := web
	drifted.SHA256 = strings.Repeat("b", 64)
	broken := v1alpha1.ProfileStatus{Path: "operator/broken.json", SHA256: strings.Repeat("c", 64), Reason: `unknown action "X" in defaultAction at line 1`}
	allow := v1alpha1.ProfileStatus{Path: "operator/allow.json", SHA256: strings.Repeat("d", 64), Valid: true, DefaultAction: "SCMP_ACT_ALLOW"}
	db := v1alpha1.ProfileStatus{Path: "operator/db.json", SHA256: strings.Repeat("e", 64), Valid: true, DefaultAction: "SCMP_ACT_LOG"}
	for i := range 12 {
		name := fmt.Sprintf("node-%02d", i)
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: name, UID: types.UID("uid-" + name), ResourceVersion: "1",
				Labels: map[string]string{
					"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": []string{"a", "b", "c"}[i%3],
					"pool": []string{"web", "db"}[i/8], "kubernetes.io/os": "linux",
				},
				Annotations:     map[string]string{"node.alpha.kubernetes.io/ttl": "0"},
				ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubelet"}},
				OwnerReferences: []metav1.OwnerReference{{Kind: "Machine", Name: name}},
			},
			Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24", ProviderID: "aws:///" + name},
			Status: corev1.NodeStatus{
				Capacity:   corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")},
				NodeInfo:   corev1.NodeSystemInfo{ContainerRuntimeVersion: "containerd://2.1.0"},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			},
		}
		switch i {
		case 8, 9, 10, 11:
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule, TimeAdded: &metav1.Time{Time: now}}}
		case 1:
			n.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}}
		case 2:
			n.Spec.Unschedulable = true
		case 3:
			n.Spec.Taints = []corev1.Taint{{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule}}
		}
		nodes = append(nodes, n)

		var profiles []v1alpha1.ProfileStatus
		switch {
		case i == 4: // drift
			profiles = []v1alpha1.ProfileStatus{drifted, allow, broken}
		case i == 5: // no web profile
			profiles = []v1alpha1.ProfileStatus{allow}
		case i >= 8:
			profiles = []v1alpha1.ProfileStatus{db, web}
		default: // out of path order, as the stripped list is not
			profiles = []v1alpha1.ProfileStatus{web, broken, allow}
		}
		inv := &v1alpha1.NodeSeccompInventory{
			ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "2", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: FieldManager}},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: name, UID: n.UID}}},
			Status: statusOf(profiles, RuntimeContainerd),
		}
		inv.Status.ObservedTime = &metav1.Time{Time: now}
		inv.Status.Conditions = append(inv.Status.Conditions, metav1.Condition{Type: "Scanned", Status: metav1.ConditionTrue, Reason: "Done", Message: "scanned"})
		inv.Status.Recordings = []v1alpha1.RecordingStatus{{Namespace: "shop", Workload: "Deployment/web", Container: "app", Syscalls: []string{"read", "write"}}}
		if i == 6 { // Truncated: lists web only, leaves 4 files out
			inv.Status = statusOf([]v1alpha1.ProfileStatus{web}, RuntimeContainerd)
			inv.Status.ProfileCount = 5
			inv.Status.Conditions[0].Status = metav1.ConditionTrue
			inv.Status.Conditions[0].Reason = v1alpha1.ReasonProfileCountCapped
		}
		if i == 7 { // no inventory: an unknown node
			inv = nil
		}
		if inv != nil {
			invs = append(invs, inv)
		}

		renewed := now.Add(-30 * time.Second)
		holder := name
		switch i {
		case 9: // stale
			renewed = now.Add(-time.Hour)
		case 10: // held by another: not a heartbeat
			holder = "node-xx"
		}
		if i == 11 { // no Lease at all
			continue
		}
		leases = append(leases, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: leaseNS, Name: policy.LeaseName(name), ResourceVersion: "3",
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: name, UID: n.UID}},
				ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: FieldManager}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: new(int32(40)), RenewTime: &metav1.MicroTime{Time: renewed}},
		})
	}
	return nodes, invs, leases
}

// loadIndex feeds the objects, stripped by CacheByObject's transforms or
// whole, into a new index at time now.
func loadIndex(t *testing.T, now time.Time, strip bool) *Index {
	t.Helper()
	ix := NewEmptyIndex(func() time.Time { return now })
	nodes, invs, leases := diffCluster(now)
	byObject := CacheByObject(leaseNS)
	transform := func(o runtime.Object) {
		if !strip {
			return
		}
		for k, v := range byObject {
			if sameType(k, o) {
				_, err := v.Transform(o)
				require.NoError(t, err)
				return
			}
		}
		t.Fatalf("no transform for %T", o)
	}
	for _, n := range nodes {
		transform(n)
		ix.setNode(n)
	}
	for _, inv := range invs {
		transform(inv)
		ix.setInventory(inv)
	}
	for _, l := range leases {
		transform(l)
		ix.setLease(l, leaseNS)
	}
	return ix
}

// TestStrippedCacheDecidesAlike is the differential test of the cache
// transforms: every pod below gets the same decision (verdict, violations,
// warnings, audit annotations, patches) from an index over the stripped
// objects as from one over the whole objects, under each node coverage.
func TestStrippedCacheDecidesAlike(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	whole, stripped := loadIndex(t, now, false), loadIndex(t, now, true)
	ns := policy.Namespace{Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}}
	type podTweak func(*corev1.PodSpec)
	profile := func(p string) podTweak {
		return func(s *corev1.PodSpec) {
			s.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &p}}
		}
	}
	selector := func(k, v string) podTweak {
		return func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{k: v} }
	}
	tolerate := func(key string) podTweak {
		return func(s *corev1.PodSpec) {
			s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
		}
	}
	affinityNotIn := func(k string, v ...string) podTweak {
		return func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: k, Operator: corev1.NodeSelectorOpNotIn, Values: v}}}},
			}}}
		}
	}
	pinned := func(node string) podTweak { return func(s *corev1.PodSpec) { s.NodeName = node } }
	pods := []struct {
		name   string
		tweaks []podTweak
	}{
		{"everywhere, web", []podTweak{profile("operator/web.json")}},
		{"everywhere, allow-by-default", []podTweak{profile("operator/allow.json")}},
		{"everywhere, missing", []podTweak{profile("operator/none.json")}},
		{"zone a, web", []podTweak{profile("operator/web.json"), selector("topology.kubernetes.io/zone", "a")}},
		{"zone b, broken", []podTweak{profile("operator/broken.json"), selector("topology.kubernetes.io/zone", "b")}},
		{"web pool not in zone c, web", []podTweak{profile("operator/web.json"), selector("pool", "web"), affinityNotIn("topology.kubernetes.io/zone", "c")}},
		{"db pool, tolerating, db", []podTweak{profile("operator/db.json"), selector("pool", "db"), tolerate("dedicated")}},
		{"db pool, not tolerating, db", []podTweak{profile("operator/db.json"), selector("pool", "db")}},
		{"tolerating everything, web", []podTweak{profile("operator/web.json"), tolerate("")}},
		{"unschedulable tolerated, web", []podTweak{profile("operator/web.json"), tolerate(corev1.TaintNodeUnschedulable)}},
		{"pinned to the drifted node, web", []podTweak{profile("operator/web.json"), pinned("node-04")}},
		{"pinned to the truncated node, allow", []podTweak{profile("operator/allow.json"), pinned("node-06")}},
		{"pinned to the unknown node", []podTweak{profile("operator/web.json"), pinned("node-07")}},
		{"pinned to the stale node", []podTweak{profile("operator/db.json"), pinned("node-09"), tolerate("dedicated")}},
		{"pinned to a node that does not exist", []podTweak{profile("operator/web.json"), pinned("node-99")}},
		{"by hostname, web", []podTweak{profile("operator/web.json"), selector("kubernetes.io/hostname", "node-05")}},
	}
	verdicts := map[string]int{}
	for _, coverage := range []v1alpha1.NodeCoverage{v1alpha1.NodeCoverageAll, v1alpha1.NodeCoverageAny} {
		p := policy.DefaultPolicy()
		p.NodeCoverage = coverage
		for _, tc := range pods {
			t.Run(string(coverage)+"/"+tc.name, func(t *testing.T) {
				spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}
				for _, tw := range tc.tweaks {
					tw(&spec)
				}
				for _, obj := range []runtime.Object{
					&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns.Name}, Spec: spec},
					&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns.Name}, Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: spec}}},
				} {
					req := policy.Request{Operation: admissionv1.Create, Namespace: ns, Object: obj}
					want := policy.Evaluate(p, whole, req)
					got := policy.Evaluate(p, stripped, req)
					assert.Equal(t, want, got, "%T", obj)
					verdicts[fmt.Sprintf("%s, %d warnings", want.Verdict(), len(want.Warnings))]++
				}
			})
		}
	}
	// The pods above must tell the indexes apart if they differed: both
	// verdicts, with and without warnings.
	for _, v := range []string{"allowed, 0 warnings", "denied, 0 warnings"} {
		assert.Positive(t, verdicts[v], "no pod was %s: the differential test lost its reach (%v)", v, verdicts)
	}
	assert.Greater(t, len(verdicts), 3, "too few kinds of decision: %v", verdicts)
}

func TestInterner(t *testing.T) {
	in := newInterner(2)
	decoded := strings.Clone // a fresh copy, as decoding makes
	a1, a2 := in.get(decoded("topology.kubernetes.io/zone")), in.get(decoded("topology.kubernetes.io/zone"))
	assert.Same(t, unsafe.StringData(a1), unsafe.StringData(a2), "equal strings share one copy")
	b1 := in.get(decoded("eu-west-1a"))
	c1, c2 := in.get(decoded("eu-west-1b")), in.get(decoded("eu-west-1b"))
	assert.Equal(t, "eu-west-1b", c1)
	assert.NotSame(t, unsafe.StringData(c1), unsafe.StringData(c2), "past the bound, strings are kept as they are")
	assert.Same(t, unsafe.StringData(b1), unsafe.StringData(in.get(decoded("eu-west-1a"))), "strings interned before the bound stay shared")
	assert.Empty(t, in.get(""))
	var none *interner
	assert.Equal(t, "x", none.get("x"))
}

func TestStripNodeSharesStrings(t *testing.T) {
	in := newInterner(maxInterned)
	node := func(name string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			strings.Clone("topology.kubernetes.io/zone"): strings.Clone("a"), "kubernetes.io/hostname": strings.Clone(name),
		}}}
	}
	a, b := node("node-a"), node("node-b")
	stripNode(a, in)
	stripNode(b, in)
	assert.Same(t, unsafe.StringData(a.Labels["topology.kubernetes.io/zone"]), unsafe.StringData(b.Labels["topology.kubernetes.io/zone"]), "a label value shared between Nodes")
	assert.Same(t, unsafe.StringData(a.Name), unsafe.StringData(a.Labels["kubernetes.io/hostname"]), "the hostname label is the name's string")
	assert.Len(t, in.strings, 3, "the two keys and the zone; the hostnames are not interned")
}

func TestListInterner(t *testing.T) {
	li := newListInterner()
	list := func(digest string) []v1alpha1.ProfileStatus {
		return []v1alpha1.ProfileStatus{
			{Path: "operator/a.json", SHA256: digest, Size: 10, Valid: true, DefaultAction: "SCMP_ACT_ERRNO"},
			{Path: "operator/b.json", SHA256: "bbbb", Size: 20, Reason: "invalid JSON at line 1"},
		}
	}
	first := li.get(list("aaaa"))
	same := li.get(list("aaaa"))
	other := li.get(list("cccc"))
	assert.Same(t, &first[0], &same[0], "an equal list is shared")
	assert.NotSame(t, &first[0], &other[0], "a list that differs in one digest is not")
	assert.Equal(t, list("cccc"), other)
	assert.Empty(t, li.get(nil))

	shorter := li.get(list("aaaa")[:1])
	assert.NotSame(t, &first[0], &shorter[0], "a prefix is another list")

	// Once no inventory holds a list, it is collected and its entry swept
	// (when the table has grown to twice its size after the last sweep, 64
	// at least).
	first, same, other, shorter = nil, nil, nil, nil
	for i := range 61 {
		li.get(list(fmt.Sprint(i)))
	}
	require.Len(t, li.lists, 64)
	goruntime.GC()
	kept := li.get(list("last"))
	assert.Len(t, li.lists, 1, "every list nobody holds was swept")
	assert.Same(t, &kept[0], &li.get(list("last"))[0])
	_, _, _, _ = first, same, other, shorter
}
