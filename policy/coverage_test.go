package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

const prof = "profiles/p.json"

// testNodes: a, b and e run "web" pods; c is dedicated to db (tainted); d is
// cordoned; e carries a transient not-ready taint, which does not count.
func testNodes() []*corev1.Node {
	cordoned := node("node-d", map[string]string{"zone": "c", "pool": "web"})
	cordoned.Spec.Unschedulable = true
	return []*corev1.Node{
		node("node-a", map[string]string{"zone": "a", "pool": "web"}),
		node("node-b", map[string]string{"zone": "b", "pool": "web"}),
		node("node-c", map[string]string{"zone": "b", "pool": "db"}, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}),
		cordoned,
		node("node-e", map[string]string{"zone": "a", "pool": "web", "gpu": "true"}, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}),
	}
}

// viewWith gives each named node an inventory holding the given entries.
func viewWith(entries map[string][]v1alpha1.ProfileStatus, heartbeats map[string]time.Time) NodeView {
	invs := make([]*v1alpha1.NodeSeccompInventory, 0, len(entries))
	for n, ps := range entries {
		invs = append(invs, inventory(n, ps...))
	}
	return NewStaticNodeView(testNodes(), invs, heartbeats)
}

// everywhere: the profile is valid on every node.
func everywhere() map[string][]v1alpha1.ProfileStatus {
	m := map[string][]v1alpha1.ProfileStatus{}
	for _, n := range testNodes() {
		m[n.Name] = []v1alpha1.ProfileStatus{validProfile(prof, "aaaa")}
	}
	return m
}

func except(m map[string][]v1alpha1.ProfileStatus, node string, ps ...v1alpha1.ProfileStatus) map[string][]v1alpha1.ProfileStatus {
	m[node] = ps
	return m
}

func withoutInventory(m map[string][]v1alpha1.ProfileStatus, node string) map[string][]v1alpha1.ProfileStatus {
	delete(m, node)
	return m
}

func localhostPod(tweaks ...func(*corev1.Pod)) *corev1.Pod {
	return tweakPod(all(append([]func(*corev1.Pod){podProfile(localhost(prof))}, tweaks...)...))
}

func pinned(name string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.NodeName = name }
}

func selector(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func affinity(key string, op corev1.NodeSelectorOperator, values ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}},
			}}},
		}}
	}
}

func tolerate(key string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	}
}

func coveragePolicy(coverage v1alpha1.NodeCoverage, unknown v1alpha1.UnknownNodes) func(*v1alpha1.ClusterSeccompPolicySpec) {
	return func(s *v1alpha1.ClusterSeccompPolicySpec) {
		s.Localhost.NodeCoverage = coverage
		s.Localhost.UnknownNodes = unknown
	}
}

const fld = "spec.securityContext.seccompProfile.localhostProfile: "

func TestCoverage(t *testing.T) {
	enforce := namespace("enforce")
	invalid := v1alpha1.ProfileStatus{Path: prof, SHA256: "bbbb", Valid: false, Reason: `unknown action "SCMP_ACT_KILLME" at line 3`}
	allowing := v1alpha1.ProfileStatus{Path: prof, SHA256: "cccc", Valid: true, DefaultAction: "SCMP_ACT_ALLOW"}
	logging := v1alpha1.ProfileStatus{Path: prof, SHA256: "dddd", Valid: true, DefaultAction: "SCMP_ACT_LOG"}
	runCases(t, []evalCase{
		{
			name:        "nodeName: the node has it",
			view:        viewWith(everywhere(), nil),
			req:         create(localhostPod(pinned("node-b")), enforce),
			wantAllowed: true,
		},
		{
			name:           "nodeName: the node lacks it",
			view:           viewWith(except(everywhere(), "node-b"), nil),
			req:            create(localhostPod(pinned("node-b")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is missing on the only node this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
		{
			name:        "nodeName: a node the lack of which elsewhere does not matter",
			view:        viewWith(except(everywhere(), "node-b"), nil),
			req:         create(localhostPod(pinned("node-a")), enforce),
			wantAllowed: true,
		},
		{
			name:           "nodeSelector: All denies when one of the matching nodes lacks it (cordoned node-d and tainted node-c are out, not-ready node-e is in)",
			view:           viewWith(except(everywhere(), "node-b"), nil),
			req:            create(localhostPod(selector("pool", "web")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is missing on 1 of 3 nodes this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
		{
			name:         "nodeSelector: Any admits with a warning",
			policy:       coveragePolicy(v1alpha1.NodeCoverageAny, v1alpha1.UnknownNodesWarn),
			view:         viewWith(except(everywhere(), "node-b"), nil),
			req:          create(localhostPod(selector("pool", "web")), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" is missing on 1 of 3 nodes this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity; admitted because spec.localhost.nodeCoverage is Any and 2 nodes have it; pods placed on the others fail with CreateContainerError`},
			wantAllowed:  true,
		},
		{
			name:           "nodeSelector: Any denies when no node has it",
			policy:         coveragePolicy(v1alpha1.NodeCoverageAny, v1alpha1.UnknownNodesWarn),
			view:           viewWith(except(except(everywhere(), "node-a"), "node-b"), nil),
			req:            create(localhostPod(selector("zone", "b")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is missing on the only node this pod can run on: node-b (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
		{
			name:           "affinity In",
			view:           viewWith(except(everywhere(), "node-a"), nil),
			req:            create(localhostPod(affinity("zone", corev1.NodeSelectorOpIn, "a")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is missing on 1 of 2 nodes this pod can run on: node-a (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
		{
			name:        "affinity NotIn keeps the pod off the node that lacks it",
			view:        viewWith(except(everywhere(), "node-a"), nil),
			req:         create(localhostPod(affinity("zone", corev1.NodeSelectorOpNotIn, "a")), enforce),
			wantAllowed: true,
		},
		{
			name:           "affinity Exists",
			view:           viewWith(except(everywhere(), "node-e"), nil),
			req:            create(localhostPod(affinity("gpu", corev1.NodeSelectorOpExists)), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is missing on the only node this pod can run on: node-e (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
		{
			name:        "a taint without toleration keeps the node out",
			view:        viewWith(except(everywhere(), "node-c"), nil),
			req:         create(localhostPod(selector("zone", "b")), enforce),
			wantAllowed: true,
		},
		{
			name:           "a tolerated taint brings the node in",
			view:           viewWith(except(everywhere(), "node-c"), nil),
			req:            create(localhostPod(selector("zone", "b"), tolerate("dedicated")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is missing on 1 of 2 nodes this pod can run on: node-c (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
		{
			name:        "a cordoned node is out",
			view:        viewWith(except(everywhere(), "node-d"), nil),
			req:         create(localhostPod(), enforce),
			wantAllowed: true,
		},
		{
			name:           "a pod that tolerates the unschedulable taint counts the cordoned node",
			view:           viewWith(except(everywhere(), "node-d"), nil),
			req:            create(localhostPod(tolerate(corev1.TaintNodeUnschedulable)), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is missing on 1 of 4 nodes this pod can run on: node-d (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
		{
			name:           "invalid on a node",
			view:           viewWith(except(everywhere(), "node-a", invalid), nil),
			req:            create(localhostPod(selector("zone", "a")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is not a valid seccomp profile on 1 of 2 nodes this pod can run on: node-a (unknown action "SCMP_ACT_KILLME" at line 3) (ProfileInvalid); fix or replace the file there`},
		},
		{
			name:           "allow-by-default",
			view:           viewWith(except(except(everywhere(), "node-a", allowing), "node-e", logging), nil),
			req:            create(localhostPod(selector("zone", "a")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" lets through every syscall it does not list (defaultAction) on all 2 nodes this pod can run on: node-a (SCMP_ACT_ALLOW), node-e (SCMP_ACT_LOG) (ProfileAllowByDefault); use a profile whose defaultAction refuses, such as SCMP_ACT_ERRNO, or RuntimeDefault`},
		},
		{
			name:         "allow-by-default accepted when rejectAllowByDefault is false (digests then differ)",
			policy:       func(s *v1alpha1.ClusterSeccompPolicySpec) { s.Localhost.RejectAllowByDefault = ptr(false) },
			view:         viewWith(except(everywhere(), "node-a", allowing), nil),
			req:          create(localhostPod(selector("zone", "a")), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" differs across nodes (profile drift): sha256 aaaa on node-e; sha256 cccc on node-a; pods behave differently depending on where they run`},
			wantAllowed:  true,
		},
		{
			name:         "no inventory, unknownNodes Warn",
			view:         viewWith(withoutInventory(everywhere(), "node-b"), nil),
			req:          create(localhostPod(selector("zone", "b")), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" could not be checked on the only node this pod can run on: node-b (no inventory); not held against the pod because spec.localhost.unknownNodes is Warn`},
			wantAllowed:  true,
		},
		{
			name:           "no inventory, unknownNodes Deny",
			policy:         coveragePolicy(v1alpha1.NodeCoverageAll, v1alpha1.UnknownNodesDeny),
			view:           viewWith(withoutInventory(everywhere(), "node-b"), nil),
			req:            create(localhostPod(selector("zone", "b")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" cannot be checked on the only node this pod can run on: node-b (no inventory) (InventoryUnknown); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn`},
		},
		{
			name:        "no inventory, unknownNodes Allow",
			policy:      coveragePolicy(v1alpha1.NodeCoverageAll, v1alpha1.UnknownNodesAllow),
			view:        viewWith(withoutInventory(everywhere(), "node-b"), nil),
			req:         create(localhostPod(selector("zone", "b")), enforce),
			wantAllowed: true,
		},
		{
			name:         "stale heartbeat makes the node unknown",
			view:         viewWith(everywhere(), map[string]time.Time{"node-a": testNow.Add(-10 * time.Minute), "node-e": testNow.Add(-time.Minute)}),
			req:          create(localhostPod(selector("zone", "a")), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" could not be checked on 1 of 2 nodes this pod can run on: node-a (agent last seen 10m0s ago); not held against the pod because spec.localhost.unknownNodes is Warn`},
			wantAllowed:  true,
		},
		{
			name:           "stale heartbeat, unknownNodes Deny",
			policy:         coveragePolicy(v1alpha1.NodeCoverageAll, v1alpha1.UnknownNodesDeny),
			view:           viewWith(everywhere(), map[string]time.Time{"node-a": testNow.Add(-6 * time.Minute)}),
			req:            create(localhostPod(pinned("node-a")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" cannot be checked on the only node this pod can run on: node-a (agent last seen 6m0s ago) (InventoryUnknown); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn`},
		},
		{
			name:         "Any with no ok node but an unknown one admits with warnings",
			policy:       coveragePolicy(v1alpha1.NodeCoverageAny, v1alpha1.UnknownNodesWarn),
			view:         viewWith(withoutInventory(except(everywhere(), "node-a"), "node-e"), nil),
			req:          create(localhostPod(selector("zone", "a")), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" is missing on 1 of 2 nodes this pod can run on: node-a (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity; admitted because spec.localhost.nodeCoverage is Any and the unknown nodes may have it`, fld + `"profiles/p.json" could not be checked on 1 of 2 nodes this pod can run on: node-e (no inventory); admitted because spec.localhost.nodeCoverage is Any`},
			wantAllowed:  true,
		},
		{
			name:         "Any with an ok node and an unknown one under Deny admits and warns",
			policy:       coveragePolicy(v1alpha1.NodeCoverageAny, v1alpha1.UnknownNodesDeny),
			view:         viewWith(withoutInventory(everywhere(), "node-e"), nil),
			req:          create(localhostPod(selector("zone", "a")), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" could not be checked on 1 of 2 nodes this pod can run on: node-e (no inventory); admitted because spec.localhost.nodeCoverage is Any`},
			wantAllowed:  true,
		},
		{
			name:         "zero candidate nodes warn and do not deny",
			view:         viewWith(everywhere(), nil),
			req:          create(localhostPod(selector("pool", "gpu")), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" was not checked against any node: none of the 5 nodes can run this pod now (nodeSelector, affinity, taints or cordons); admitted, since a node added later may have it`},
			wantAllowed:  true,
		},
		{
			name:         "no nodes at all",
			view:         NewStaticNodeView(nil, nil, nil),
			req:          create(localhostPod(), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" was not checked against any node: the cluster has no nodes yet; admitted, since a node added later may have it`},
			wantAllowed:  true,
		},
		{
			name:         "drift across nodes warns",
			view:         viewWith(except(everywhere(), "node-b", validProfile(prof, "0123456789abcdef0123")), nil),
			req:          create(localhostPod(selector("pool", "web")), enforce),
			wantWarnings: []string{fld + `"profiles/p.json" differs across nodes (profile drift): sha256 0123456789ab on node-b; sha256 aaaa on node-a, node-e; pods behave differently depending on where they run`},
			wantAllowed:  true,
		},
		{
			name:        "nodeCoverage Off never looks at nodes",
			policy:      coveragePolicy(v1alpha1.NodeCoverageOff, v1alpha1.UnknownNodesDeny),
			view:        panickingView{},
			req:         create(localhostPod(), enforce),
			wantAllowed: true,
		},
		{
			name:          "a pod without Localhost profiles never looks at nodes",
			view:          panickingView{},
			req:           create(tweakPod(containerProfile(0, runtimeDefault())), enforce),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
		{
			name: "container-level profile is checked on its own",
			view: viewWith(everywhere(), nil),
			req:  create(tweakPod(all(pinned("node-a"), podProfile(runtimeDefault()), containerProfile(1, localhost("profiles/other.json")))), enforce),
			wantViolations: []string{
				`spec.containers[1].securityContext.seccompProfile.localhostProfile: "profiles/other.json" is missing on the only node this pod can run on: node-a (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`,
			},
		},
		{
			name:           "the path is cleaned before the lookup",
			view:           viewWith(except(everywhere(), "node-a"), nil),
			req:            create(tweakPod(all(pinned("node-a"), podProfile(localhost("./profiles//p.json")))), enforce),
			wantViolations: []string{fld + `"profiles/p.json" is missing on the only node this pod can run on: node-a (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
	})
}

func TestCoverageNamesAtMostFiveNodes(t *testing.T) {
	var nodes []*corev1.Node
	invs := []*v1alpha1.NodeSeccompInventory{inventory("n0", validProfile(prof, "a"))}
	for i := range 8 {
		nodes = append(nodes, node(fmt.Sprintf("n%d", i), nil))
		if i > 0 {
			invs = append(invs, inventory(fmt.Sprintf("n%d", i)))
		}
	}
	view := NewStaticNodeView(nodes, invs, nil)
	p := compile(t, nil)
	d := Evaluate(p, view, create(localhostPod(), namespace("enforce")))
	assert.Equal(t, []string{fld + `"profiles/p.json" is missing on 7 of 8 nodes this pod can run on: n1, n2, n3, n4, n5, and 2 more (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`}, d.Messages())
}

func TestDaemonSetCountsCordonedNodes(t *testing.T) {
	view := viewWith(except(everywhere(), "node-d"), nil)
	ds := workloads(localhostPod())["DaemonSet"].(*appsv1.DaemonSet)
	d := Evaluate(compile(t, nil), view, create(ds, namespace("enforce")))
	assert.Equal(t, []string{`spec.template.spec.securityContext.seccompProfile.localhostProfile: "profiles/p.json" is missing on 1 of 4 nodes this pod can run on: node-d (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`}, d.Messages())

	// The same template in a Deployment does not land on the cordoned node.
	dep := workloads(localhostPod())["Deployment"]
	d = Evaluate(compile(t, nil), view, create(dep, namespace("enforce")))
	assert.Empty(t, d.Violations)
}

// panickingView fails the test if the engine consults nodes.
type panickingView struct{}

func (panickingView) Nodes() []*corev1.Node { panic("Nodes called") }
func (panickingView) Profile(string, string) ProfileLookup {
	panic("Profile called")
}

// noHeartbeatView has an inventory for every node but has never seen an agent Lease.
type noHeartbeatView struct{ NodeView }

func (v noHeartbeatView) Profile(node, path string) ProfileLookup {
	l := v.NodeView.Profile(node, path)
	l.NoHeartbeat = true
	return l
}

func TestCoverageWithoutHeartbeat(t *testing.T) {
	p := compile(t, coveragePolicy(v1alpha1.NodeCoverageAll, v1alpha1.UnknownNodesDeny))
	d := Evaluate(p, noHeartbeatView{viewWith(everywhere(), nil)}, create(localhostPod(pinned("node-a")), namespace("enforce")))
	assert.Equal(t, []string{fld + `"profiles/p.json" cannot be checked on the only node this pod can run on: node-a (no heartbeat from its agent) (InventoryUnknown); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn`}, d.Messages())
}

func TestDriftNamesAtMostFiveNodesPerDigest(t *testing.T) {
	var nodes []*corev1.Node
	var invs []*v1alpha1.NodeSeccompInventory
	for i := range 8 {
		name := fmt.Sprintf("n%d", i)
		nodes = append(nodes, node(name, nil))
		digest := "aaaa"
		if i == 7 {
			digest = "bbbb"
		}
		invs = append(invs, inventory(name, validProfile(prof, digest)))
	}
	d := Evaluate(compile(t, nil), NewStaticNodeView(nodes, invs, nil), create(localhostPod(), namespace("enforce")))
	assert.Empty(t, d.Violations)
	assert.Equal(t, []string{fld + `"profiles/p.json" differs across nodes (profile drift): sha256 aaaa on n0, n1, n2, n3, n4, and 2 more; sha256 bbbb on n7; pods behave differently depending on where they run`}, d.Warnings)
}

// countingView counts the profile lookups the engine makes.
type countingView struct {
	NodeView
	lookups int
}

func (v *countingView) Profile(node, path string) ProfileLookup {
	v.lookups++
	return v.NodeView.Profile(node, path)
}

func TestCoverageOncePerProfilePath(t *testing.T) {
	podWith := func(containers int) *corev1.Pod {
		return tweakPod(func(p *corev1.Pod) {
			base := p.Spec.Containers[0]
			p.Spec.Containers = nil
			for i := range containers {
				c := *base.DeepCopy()
				c.Name = fmt.Sprintf("c%d", i)
				path := prof
				if i%2 == 1 {
					path = "profiles/other.json"
				}
				c.SecurityContext = &corev1.SecurityContext{SeccompProfile: localhost(path)}
				p.Spec.Containers = append(p.Spec.Containers, c)
			}
		})
	}
	lookups := func(pod *corev1.Pod) (int, []string) {
		view := &countingView{NodeView: viewWith(except(everywhere(), "node-a"), nil)}
		d := Evaluate(compile(t, nil), view, create(pod, namespace("enforce")))
		return view.lookups, d.Messages()
	}
	// Two containers, one per path: every candidate node looked up once per path.
	want, _ := lookups(podWith(2))
	require.NotZero(t, want)

	// Fifty containers naming the same two paths cost no more lookups.
	got, msgs := lookups(podWith(50))
	assert.Equal(t, want, got, "profile lookups")
	// Each container still gets its own message, with its own field path.
	require.Len(t, msgs, 50)
	assert.Contains(t, msgs[0], `spec.containers[0].securityContext.seccompProfile.localhostProfile: "profiles/p.json" is missing on`)
	assert.Contains(t, msgs[49], `spec.containers[49].securityContext.seccompProfile.localhostProfile: "profiles/other.json" is missing on`)
}

func TestDefaultOnlyChecksNoCoverage(t *testing.T) {
	view := &countingView{NodeView: viewWith(except(everywhere(), "node-a"), nil)}
	req := create(tweakPod(all(podProfile(nil), containerProfile(0, localhost(prof)))), namespace("enforce"))
	req.DefaultOnly = true
	d := Evaluate(compile(t, nil), view, req)
	assert.Equal(t, 0, view.lookups, "the mutating webhook's evaluation must not look up profiles")
	assert.Empty(t, d.Violations)
	assert.NotEmpty(t, d.Patches, "the patches are still computed")

	// The same request without DefaultOnly does the lookups and finds the violation.
	req.DefaultOnly = false
	d = Evaluate(compile(t, nil), view, req)
	assert.NotZero(t, view.lookups)
	assert.NotEmpty(t, d.Violations)
}

// truncated gives node an inventory that lists entries but leaves omitted
// files out (the agent's Truncated condition).
func truncated(omitted int, entries ...v1alpha1.ProfileStatus) *v1alpha1.NodeSeccompInventory {
	inv := inventory("node-b", entries...)
	inv.Status.ProfileCount = int32(len(entries) + omitted)
	inv.Status.Conditions = []metav1.Condition{{Type: v1alpha1.InventoryTruncated, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonProfileCountCapped}}
	return inv
}

func TestClassifyTruncatedInventory(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := compile(t, nil)
	cases := []struct {
		name string
		inv  *v1alpha1.NodeSeccompInventory
		want NodeVerdict
	}{
		{
			name: "a complete inventory without the path: missing",
			inv:  inventory("node-b", validProfile("profiles/other.json", "aaaa")),
			want: NodeVerdict{State: NodeMissing},
		},
		{
			name: "a truncated inventory without the path: unknown, it may be among those left out",
			inv:  truncated(12, validProfile("profiles/other.json", "aaaa")),
			want: NodeVerdict{State: NodeUnknown, Detail: "not listed in its inventory, which is truncated and leaves 12 files out; remove unused files from the node's seccomp root"},
		},
		{
			name: "one file left out",
			inv:  truncated(1),
			want: NodeVerdict{State: NodeUnknown, Detail: "not listed in its inventory, which is truncated and leaves 1 file out; remove unused files from the node's seccomp root"},
		},
		{
			name: "a truncated inventory that lists the path: as listed",
			inv:  truncated(12, validProfile(prof, "aaaa")),
			want: NodeVerdict{State: NodeOK, SHA256: "aaaa"},
		},
		{
			name: "a Truncated condition that is False: missing",
			inv: func() *v1alpha1.NodeSeccompInventory {
				inv := truncated(12)
				inv.Status.Conditions[0].Status = metav1.ConditionFalse
				return inv
			}(),
			want: NodeVerdict{State: NodeMissing},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			view := NewStaticNodeView(testNodes(), []*v1alpha1.NodeSeccompInventory{tc.inv}, nil)
			assert.Equal(t, tc.want, ClassifyNode(p, view, now, "node-b", prof))
		})
	}
}

func TestCoverageTruncatedInventory(t *testing.T) {
	enforce := namespace("enforce")
	view := func() NodeView {
		invs := []*v1alpha1.NodeSeccompInventory{truncated(12, validProfile("profiles/other.json", "aaaa"))}
		for _, n := range []string{"node-a", "node-e"} {
			invs = append(invs, inventory(n, validProfile(prof, "aaaa")))
		}
		return NewStaticNodeView(testNodes(), invs, nil)
	}
	runCases(t, []evalCase{
		{
			name:           "unknownNodes Deny: denied as unknown, not as missing",
			policy:         coveragePolicy(v1alpha1.NodeCoverageAll, v1alpha1.UnknownNodesDeny),
			view:           view(),
			req:            create(localhostPod(pinned("node-b")), enforce),
			wantViolations: []string{fld + `"profiles/p.json" cannot be checked on the only node this pod can run on: node-b (not listed in its inventory, which is truncated and leaves 12 files out; remove unused files from the node's seccomp root) (InventoryUnknown); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn`},
		},
		{
			name:         "unknownNodes Warn: admitted with a warning",
			policy:       coveragePolicy(v1alpha1.NodeCoverageAll, v1alpha1.UnknownNodesWarn),
			view:         view(),
			req:          create(localhostPod(selector("pool", "web")), enforce),
			wantAllowed:  true,
			wantWarnings: []string{fld + `"profiles/p.json" could not be checked on 1 of 3 nodes this pod can run on: node-b (not listed in its inventory, which is truncated and leaves 12 files out; remove unused files from the node's seccomp root); not held against the pod because spec.localhost.unknownNodes is Warn`},
		},
	})
}
