package inventory

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// nameView hides the Index's NodeSet: the engine then matches every node
// and looks each profile up by name, the path the CLI's views take.
type nameView struct{ ix *Index }

func (v nameView) Nodes() []*corev1.Node { return v.ix.Nodes() }
func (v nameView) Profile(node, path string) policy.ProfileLookup {
	return v.ix.Profile(node, path)
}

// mixedIndex is an index of 60 nodes in every state coverage tells apart:
// zones and pools, NoSchedule, NoExecute, PreferNoSchedule and condition
// taints, cordons; inventories that list the profile, miss it, hold it
// invalid or allowing by default, list nothing, are truncated, or are absent; fresh,
// stale and absent Leases; two digests of the same file (drift); shared
// and distinct profile lists.
func mixedIndex(clk *clock) *Index {
	ix := NewEmptyIndex(clk.now)
	in, lists := newInterner(maxInterned), newListInterner()
	for i := range 60 {
		name := fmt.Sprintf("node-%02d", i)
		n := testNode(name, map[string]string{
			"kubernetes.io/hostname": name, "zone": []string{"a", "b", "c"}[i%3], "pool": []string{"x", "y"}[i%2],
		})
		switch i % 7 {
		case 1:
			n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		case 2:
			n.Spec.Taints = []corev1.Taint{{Key: "evict", Effect: corev1.TaintEffectNoExecute}}
		case 3:
			n.Spec.Taints = []corev1.Taint{{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}}
		case 4:
			n.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}}
		case 5:
			n.Spec.Unschedulable = true
		}
		stripNode(n, in)
		ix.setNode(n)
		web := webProfile
		switch i % 11 {
		case 3:
			web.SHA256 = "cccc"
		case 4:
			web.Valid, web.Reason = false, "unknown action at line 2"
		case 5:
			web.DefaultAction = "SCMP_ACT_ALLOW"
		}
		profiles := []v1alpha1.ProfileStatus{web, dbProfile}
		if i%13 == 6 {
			profiles = profiles[1:] // web.json missing
		}
		if i%31 == 30 {
			profiles = nil // an empty seccomp root
		}
		if i%9 == 8 {
			profiles = append(profiles, v1alpha1.ProfileStatus{Path: fmt.Sprintf("own/%s.json", name), SHA256: "dddd", Valid: true, DefaultAction: "SCMP_ACT_ERRNO"})
		}
		if i%17 != 16 {
			inv := testInventory(name, profiles...)
			if i%19 == 18 {
				inv.Status.Conditions = []metav1.Condition{{Type: v1alpha1.InventoryTruncated, Status: metav1.ConditionTrue, Reason: "TooManyFiles", Message: "3 files left out"}}
			}
			stripInventory(inv, in)
			inv.Status.Profiles = lists.get(inv.Status.Profiles)
			ix.setInventory(inv)
		}
		switch {
		case i%23 == 22: // no Lease: unknown
		case i%29 == 28:
			ix.setLease(testLease(leaseNS, policy.LeaseName(name), clk.t.Add(-time.Hour)), leaseNS) // stale
		default:
			ix.setLease(testLease(leaseNS, policy.LeaseName(name), clk.t), leaseNS)
		}
	}
	return ix
}

// TestNodeSetAgreesWithNodeView: the memoized candidates and the by-position
// lookups decide exactly as matching every node and looking each profile up
// by name, for every kind of scheduling constraint and coverage outcome, on
// the first request and from the memo, and again after nodes change.
func TestNodeSetAgreesWithNodeView(t *testing.T) {
	clk := newClock()
	ix := mixedIndex(clk)
	ns := policy.Namespace{Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}}
	req := func(o runtime.Object) policy.Request {
		return policy.Request{Operation: admissionv1.Create, Namespace: ns, Object: o, Now: clk.t, Final: true}
	}
	localhost := func(p string) *corev1.SeccompProfile {
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &p}
	}
	spec := func(profile string, mut func(*corev1.PodSpec)) corev1.PodSpec {
		s := corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: localhost(profile)},
			Containers:      []corev1.Container{{Name: "app", Image: "app"}, {Name: "side", Image: "side", SecurityContext: &corev1.SecurityContext{SeccompProfile: localhost("profiles/db.json")}}},
		}
		if mut != nil {
			mut(&s)
		}
		return s
	}
	constraints := []struct {
		name string
		mut  func(*corev1.PodSpec)
	}{
		{"no constraints", nil},
		{"nodeSelector zone a", func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"zone": "a"} }},
		{"nodeSelector zone a pool y", func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"zone": "a", "pool": "y"} }},
		{"nodeSelector matching nothing", func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"zone": "z"} }},
		{"affinity NotIn and matchFields", func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{
					{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"b"}}}},
					{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-07"}}}},
				}}}}
		}},
		{"affinity that does not parse", func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: "Bogus"}}}}}}}
		}},
		{"tolerates gpu", func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		}},
		{"tolerates everything", func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		}},
		{"pinned by nodeName", func(s *corev1.PodSpec) { s.NodeName = "node-05" }},
	}
	policies := map[string]*policy.Policy{}
	for _, cov := range []v1alpha1.NodeCoverage{v1alpha1.NodeCoverageAll, v1alpha1.NodeCoverageAny} {
		for _, unk := range []v1alpha1.UnknownNodes{v1alpha1.UnknownNodesDeny, v1alpha1.UnknownNodesWarn, v1alpha1.UnknownNodesAllow} {
			p := policy.DefaultPolicy()
			p.NodeCoverage, p.UnknownNodes, p.RejectAllowByDefault, p.StaleAfter = cov, unk, true, 5*time.Minute
			policies[fmt.Sprintf("%s/%s", cov, unk)] = p
		}
	}
	check := func(t *testing.T, stage string) {
		t.Helper()
		for pname, p := range policies {
			for _, profile := range []string{"profiles/web.json", "profiles/absent.json", "own/node-08.json"} {
				for _, c := range constraints {
					pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns.Name}, Spec: spec(profile, c.mut)}
					ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns.Name},
						Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: spec(profile, c.mut)}}}
					for kind, r := range map[string]policy.Request{"Pod": req(pod), "DaemonSet": req(ds)} {
						want := policy.Evaluate(p, nameView{ix}, r)
						for round := range 2 { // the first computes the candidates, the second reads them from the memo
							got := policy.Evaluate(p, ix, r)
							require.Equal(t, want, got, "%s: policy %s, %s, %s %s, round %d", stage, pname, profile, kind, c.name, round)
						}
					}
				}
			}
		}
	}
	check(t, "at start")

	// Changes that replace the node set: a relabel, a new taint, a cordon,
	// a node gone, a node added.
	relabel := testNode("node-00", map[string]string{"kubernetes.io/hostname": "node-00", "zone": "b", "pool": "x"})
	stripNode(relabel, newInterner(maxInterned))
	ix.setNode(relabel)
	tainted := testNode("node-03", map[string]string{"kubernetes.io/hostname": "node-03", "zone": "a", "pool": "y"})
	tainted.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	ix.setNode(tainted)
	cordoned := testNode("node-06", map[string]string{"kubernetes.io/hostname": "node-06", "zone": "a", "pool": "x"})
	cordoned.Spec.Unschedulable = true
	ix.setNode(cordoned)
	ix.deleteNode(testNode("node-09", nil))
	ix.setNode(testNode("node-99", map[string]string{"kubernetes.io/hostname": "node-99", "zone": "a", "pool": "x"}))
	// And what changes no node: inventories and Leases, time passing.
	ix.deleteInventory(testInventory("node-12"))
	ix.setLease(testLease(leaseNS, policy.LeaseName("node-99"), clk.t), leaseNS)
	clk.advance(3 * time.Minute)
	ix.setLease(testLease(leaseNS, policy.LeaseName("node-15"), clk.t), leaseNS)
	clk.advance(3 * time.Minute) // most Leases are now stale
	check(t, "after changes")
}

// TestNodeSetKeptAcrossStatusUpdates: a Node update that changes nothing
// scheduling reads keeps the node set, and so its candidate memo; one that
// changes labels, taints or the cordon replaces it.
func TestNodeSetKeptAcrossStatusUpdates(t *testing.T) {
	base := func() *corev1.Node {
		n := testNode("node-a", map[string]string{"zone": "a"})
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
		return n
	}
	for _, tc := range []struct {
		name     string
		change   func(*corev1.Node)
		replaced bool
	}{
		{"status and resourceVersion only", func(n *corev1.Node) {
			n.ResourceVersion = "2"
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		}, false},
		{"a label value", func(n *corev1.Node) { n.Labels["zone"] = "b" }, true},
		{"a label added", func(n *corev1.Node) { n.Labels["pool"] = "x" }, true},
		{"a taint's effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = corev1.TaintEffectNoExecute }, true},
		{"a taint removed", func(n *corev1.Node) { n.Spec.Taints = nil }, true},
		{"cordoned", func(n *corev1.Node) { n.Spec.Unschedulable = true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := NewEmptyIndex(nil)
			ix.setNode(base())
			before := ix.NodeSet()
			n := base()
			tc.change(n)
			ix.setNode(n)
			after := ix.NodeSet()
			assert.Equal(t, tc.replaced, before != after, "node set replaced")
			require.Len(t, after.Nodes(), 1)
			if tc.replaced {
				assert.Same(t, n, after.Nodes()[0], "the set holds the new Node")
			} else {
				assert.Same(t, before.Nodes()[0], after.Nodes()[0], "the set keeps the Node it had")
			}
		})
	}
}
