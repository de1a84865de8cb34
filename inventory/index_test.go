package inventory

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const leaseNS = "seccomp-guard"

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func nodeNames(nodes []*corev1.Node) []string {
	names := make([]string, 0, len(nodes))
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return names
}

func testNode(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func testInventory(node string, profiles ...v1alpha1.ProfileStatus) *v1alpha1.NodeSeccompInventory {
	return &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: statusOf(profiles, RuntimeContainerd)}
}

// testLease returns a Lease held, as an agent's is, by the node its name
// names.
func testLease(namespace, name string, renew time.Time) *coordinationv1.Lease {
	holder := name
	if p := policy.LeasePrefix; len(name) > len(p) && name[:len(p)] == p {
		holder = name[len(p):]
	}
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}
	if !renew.IsZero() {
		l.Spec.RenewTime = &metav1.MicroTime{Time: renew}
	}
	return l
}

var (
	webProfile = v1alpha1.ProfileStatus{Path: "profiles/web.json", SHA256: "aaaa", Size: 10, Valid: true, DefaultAction: "SCMP_ACT_ERRNO"}
	dbProfile  = v1alpha1.ProfileStatus{Path: "profiles/db.json", SHA256: "bbbb", Size: 20, Reason: `unknown action "X" in defaultAction at line 1`}
)

func TestIndexNodes(t *testing.T) {
	ix := NewEmptyIndex(nil)
	assert.Empty(t, ix.Nodes())

	ix.setNode(testNode("node-c", nil))
	ix.setNode(testNode("node-a", map[string]string{"zone": "a"}))
	ix.setNode(testNode("node-b", nil))
	before := ix.Nodes()
	assert.Equal(t, []string{"node-a", "node-b", "node-c"}, nodeNames(before), "sorted by name")

	t.Run("update replaces the node", func(t *testing.T) {
		ix.setNode(testNode("node-a", map[string]string{"zone": "b"}))
		assert.Equal(t, map[string]string{"zone": "b"}, ix.Nodes()[0].Labels)
		assert.Equal(t, map[string]string{"zone": "a"}, before[0].Labels, "an earlier snapshot is never modified")
	})
	t.Run("delete", func(t *testing.T) {
		ix.deleteNode(testNode("node-b", nil))
		assert.Equal(t, []string{"node-a", "node-c"}, nodeNames(ix.Nodes()))
	})
	t.Run("delete of a tombstone (a delete missed while disconnected)", func(t *testing.T) {
		ix.deleteNode(toolscache.DeletedFinalStateUnknown{Key: "node-c", Obj: testNode("node-c", nil)})
		assert.Equal(t, []string{"node-a"}, nodeNames(ix.Nodes()))
	})
	t.Run("objects of another type are ignored", func(t *testing.T) {
		ix.setNode(testLease(leaseNS, "node-x", time.Time{}))
		ix.deleteNode("node-a")
		assert.Equal(t, []string{"node-a"}, nodeNames(ix.Nodes()))
	})
	assert.Equal(t, []string{"node-a", "node-b", "node-c"}, nodeNames(before))
}

func TestIndexInventories(t *testing.T) {
	clk := newClock()
	ix := NewEmptyIndex(clk.now)
	ix.setNode(testNode("node-a", nil))
	ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), clk.t), leaseNS)
	hb := clk.t

	cases := []struct {
		name   string
		change func()
		path   string
		want   policy.ProfileLookup
	}{
		{
			name:   "no inventory",
			change: func() {},
			path:   webProfile.Path,
			want:   policy.ProfileLookup{},
		},
		{
			name:   "added: the profile is found",
			change: func() { ix.setInventory(testInventory("node-a", dbProfile, webProfile)) },
			path:   webProfile.Path,
			want:   policy.ProfileLookup{HasInventory: true, Heartbeat: hb, Found: true, Profile: webProfile},
		},
		{
			name:   "an invalid entry is found with its reason",
			change: func() {},
			path:   dbProfile.Path,
			want:   policy.ProfileLookup{HasInventory: true, Heartbeat: hb, Found: true, Profile: dbProfile},
		},
		{
			name:   "a path the inventory does not list",
			change: func() {},
			path:   "profiles/other.json",
			want:   policy.ProfileLookup{HasInventory: true, Heartbeat: hb},
		},
		{
			name:   "updated without the profile: not found, the inventory still known",
			change: func() { ix.setInventory(testInventory("node-a", dbProfile)) },
			path:   webProfile.Path,
			want:   policy.ProfileLookup{HasInventory: true, Heartbeat: hb},
		},
		{
			name: "updated with a new digest",
			change: func() {
				changed := webProfile
				changed.SHA256 = "cccc"
				ix.setInventory(testInventory("node-a", changed))
			},
			path: webProfile.Path,
			want: policy.ProfileLookup{HasInventory: true, Heartbeat: hb, Found: true, Profile: v1alpha1.ProfileStatus{Path: webProfile.Path, SHA256: "cccc", Size: 10, Valid: true, DefaultAction: "SCMP_ACT_ERRNO"}},
		},
		{
			name:   "deleted (tombstone): no inventory",
			change: func() { ix.deleteInventory(toolscache.DeletedFinalStateUnknown{Obj: testInventory("node-a")}) },
			path:   webProfile.Path,
			want:   policy.ProfileLookup{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			assert.Equal(t, tc.want, ix.Profile("node-a", tc.path))
		})
	}
	t.Run("entries of deleted inventories leave nothing behind", func(t *testing.T) {
		ix.setInventory(testInventory("node-b", webProfile))
		ix.deleteInventory(testInventory("node-b"))
		assert.NotContains(t, ix.nodes, "node-b", "nothing else is known of node-b")
	})
	t.Run("one node's update leaves the others alone", func(t *testing.T) {
		ix.setInventory(testInventory("node-a", webProfile))
		ix.setInventory(testInventory("node-b", webProfile, dbProfile))
		ix.setInventory(testInventory("node-b"))
		assert.True(t, ix.Profile("node-a", webProfile.Path).Found)
		assert.False(t, ix.Profile("node-b", webProfile.Path).Found)
		assert.Equal(t, []v1alpha1.ProfileStatus{webProfile}, ix.nodes["node-a"].profiles)
		assert.Empty(t, ix.nodes["node-b"].profiles)
	})
}

func TestIndexHeartbeats(t *testing.T) {
	clk := newClock()
	ix := NewEmptyIndex(clk.now)
	ix.setInventory(testInventory("node-a", webProfile))
	// The agent's clock runs 3h behind: it matters on first sight only.
	agentClock := clk.t.Add(-3 * time.Hour)

	steps := []struct {
		name    string
		advance time.Duration
		lease   func()
		want    time.Time // the heartbeat Profile reports
	}{
		{
			name:  "no Lease yet: no heartbeat, so unknown",
			lease: func() {},
			want:  time.Time{},
		},
		{
			name:    "Lease added: judged by its renewTime, plus the clock-skew allowance",
			advance: time.Minute,
			lease:   func() { ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), agentClock), leaseNS) },
			want:    agentClock.Add(MaxClockSkew),
		},
		{
			name:    "Lease updated without a new renewTime (a resync, a label): no heartbeat",
			advance: 10 * time.Second,
			lease:   func() { ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), agentClock), leaseNS) },
			want:    agentClock.Add(MaxClockSkew),
		},
		{
			name:    "renewed: seen now, whatever the agent's clock says",
			advance: 10 * time.Second,
			lease: func() {
				ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), agentClock.Add(10*time.Second)), leaseNS)
			},
			want: newClock().t.Add(time.Minute + 20*time.Second),
		},
		{
			name:    "a Lease in another namespace is not ours",
			advance: 10 * time.Second,
			lease:   func() { ix.setLease(testLease("kube-node-lease", policy.LeaseName("node-a"), clk.t), leaseNS) },
			want:    newClock().t.Add(time.Minute + 20*time.Second),
		},
		{
			name:    "nor a Lease without our prefix",
			advance: 10 * time.Second,
			lease:   func() { ix.setLease(testLease(leaseNS, "node-a", clk.t), leaseNS) },
			want:    newClock().t.Add(time.Minute + 20*time.Second),
		},
		{
			name:    "Lease deleted: unknown again",
			advance: 10 * time.Second,
			lease: func() {
				ix.deleteLease(toolscache.DeletedFinalStateUnknown{Obj: testLease(leaseNS, policy.LeaseName("node-a"), time.Time{})}, leaseNS)
			},
			want: time.Time{},
		},
		{
			name:    "recreated with an old renewTime: judged by it, a first sight again",
			advance: 10 * time.Second,
			lease: func() {
				ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), agentClock.Add(10*time.Second)), leaseNS)
			},
			want: agentClock.Add(10*time.Second + MaxClockSkew),
		},
		{
			name:    "the recreated Lease renewed: seen now",
			advance: 10 * time.Second,
			lease: func() {
				ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), agentClock.Add(20*time.Second)), leaseNS)
			},
			want: newClock().t.Add(2*time.Minute + 10*time.Second),
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.advance(s.advance)
			s.lease()
			l := ix.Profile("node-a", webProfile.Path)
			assert.Equal(t, s.want, l.Heartbeat)
			assert.Equal(t, s.want.IsZero(), l.NoHeartbeat, "NoHeartbeat")
		})
	}
	got, ok := observedHeartbeat(ix, "node-a")
	assert.True(t, ok)
	assert.Equal(t, newClock().t.Add(2*time.Minute+10*time.Second), got)
	_, ok = observedHeartbeat(ix, "node-b")
	assert.False(t, ok)
}

// TestIndexLeaseFirstSight proves how a Lease is judged when the webhook
// first sees it (at start, or when it appears): by its renewTime, with at
// most MaxClockSkew of allowance, never as renewed now.
func TestIndexLeaseFirstSight(t *testing.T) {
	tests := []struct {
		name    string
		renewed time.Duration // renewTime, relative to the webhook's clock
		want    time.Duration // the heartbeat, relative to the webhook's clock
	}{
		{name: "renewed 1h ago: 1h ago, less the allowance", renewed: -time.Hour, want: -time.Hour + MaxClockSkew},
		{name: "renewed 30s ago: 30s ago, less the allowance", renewed: -30 * time.Second, want: -30*time.Second + MaxClockSkew},
		{name: "renewed within the allowance: now", renewed: -5 * time.Second, want: 0},
		{name: "renewed exactly the allowance ago: now", renewed: -MaxClockSkew, want: 0},
		{name: "renewTime in the future: now, at most", renewed: time.Hour, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			ix := NewEmptyIndex(clk.now)
			ix.setInventory(testInventory("node-a", webProfile))
			ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), clk.t.Add(tc.renewed)), leaseNS)
			l := ix.Profile("node-a", webProfile.Path)
			assert.False(t, l.NoHeartbeat)
			assert.Equal(t, clk.t.Add(tc.want), l.Heartbeat)
		})
	}
}

// TestIndexStaleAtStart proves a webhook that starts after an agent died
// does not trust the agent's last Lease: a Lease renewed 1h ago is stale as
// soon as the index sees it.
func TestIndexStaleAtStart(t *testing.T) {
	clk := newClock()
	ix := NewEmptyIndex(clk.now)
	ix.setNode(testNode("node-a", nil))
	ix.setInventory(testInventory("node-a", webProfile))
	ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), clk.t.Add(-time.Hour)), leaseNS)

	p, errs := policy.Compile(&v1alpha1.ClusterSeccompPolicy{Spec: v1alpha1.ClusterSeccompPolicySpec{
		Localhost: v1alpha1.LocalhostPolicy{UnknownNodes: v1alpha1.UnknownNodesDeny},
	}})
	require.Empty(t, errs)
	lp := webProfile.Path
	d := policy.Evaluate(p, ix, policy.Request{
		Operation: admissionv1.Create,
		Namespace: policy.Namespace{Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}},
		Object: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
			Spec: corev1.PodSpec{
				NodeName:        "node-a",
				SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}},
				Containers:      []corev1.Container{{Name: "app", Image: "nginx"}},
			},
		},
		Now:   clk.now(),
		Final: true,
	})
	assert.Equal(t, []string{`spec.securityContext.seccompProfile.localhostProfile: "profiles/web.json" cannot be checked on the only node this pod can run on: node-a (agent last seen 59m50s ago) (InventoryUnknown); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn`}, d.Messages())
}

// TestIndexStaleness runs the policy engine over the index: a node whose
// agent stopped renewing becomes unknown after staleAfter.
func TestIndexStaleness(t *testing.T) {
	clk := newClock()
	ix := NewEmptyIndex(clk.now)
	ix.setNode(testNode("node-a", nil))
	ix.setInventory(testInventory("node-a", webProfile))
	ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), clk.t), leaseNS)

	deny := &v1alpha1.ClusterSeccompPolicy{Spec: v1alpha1.ClusterSeccompPolicySpec{
		Localhost: v1alpha1.LocalhostPolicy{UnknownNodes: v1alpha1.UnknownNodesDeny, StaleAfter: &metav1.Duration{Duration: time.Minute}},
	}}
	p, errs := policy.Compile(deny)
	require.Empty(t, errs)
	lp := webProfile.Path
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: corev1.PodSpec{
			NodeName:        "node-a",
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}},
			Containers:      []corev1.Container{{Name: "app", Image: "nginx"}},
		},
	}
	evaluate := func() []string {
		d := policy.Evaluate(p, ix, policy.Request{
			Operation: admissionv1.Create,
			Namespace: policy.Namespace{Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}},
			Object:    pod,
			Now:       clk.now(),
			Final:     true,
		})
		return d.Messages()
	}

	clk.advance(59 * time.Second)
	assert.Empty(t, evaluate(), "fresh within staleAfter")

	clk.advance(2 * time.Second)
	assert.Equal(t, []string{`spec.securityContext.seccompProfile.localhostProfile: "profiles/web.json" cannot be checked on the only node this pod can run on: node-a (agent last seen 1m1s ago) (InventoryUnknown); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn`}, evaluate())

	ix.setLease(testLease(leaseNS, policy.LeaseName("node-a"), clk.t), leaseNS)
	assert.Empty(t, evaluate(), "fresh again once a renewal is observed")
}

// TestNewIndex checks the informer wiring: events of each kind reach the index.
func TestNewIndex(t *testing.T) {
	ctx := context.Background()
	informers := &informertest.FakeInformers{Scheme: scheme.Scheme}
	ix, err := NewIndex(ctx, informers, leaseNS)
	require.NoError(t, err)

	nodes, err := informers.FakeInformerFor(ctx, &corev1.Node{})
	require.NoError(t, err)
	invs, err := informers.FakeInformerFor(ctx, &v1alpha1.NodeSeccompInventory{})
	require.NoError(t, err)
	leases, err := informers.FakeInformerFor(ctx, &coordinationv1.Lease{})
	require.NoError(t, err)

	nodes.Add(testNode("node-a", nil))
	nodes.Add(testNode("node-b", nil))
	nodes.Update(testNode("node-b", nil), testNode("node-b", map[string]string{"pool": "web"}))
	nodes.Delete(testNode("node-a", nil))
	require.Len(t, ix.Nodes(), 1)
	assert.Equal(t, map[string]string{"pool": "web"}, ix.Nodes()[0].Labels)

	invs.Add(testInventory("node-b"))
	invs.Update(testInventory("node-b"), testInventory("node-b", webProfile))
	assert.True(t, ix.Profile("node-b", webProfile.Path).Found)

	leases.Add(testLease(leaseNS, policy.LeaseName("node-b"), time.Now()))
	_, ok := observedHeartbeat(ix, "node-b")
	assert.True(t, ok)
	leases.Delete(testLease(leaseNS, policy.LeaseName("node-b"), time.Now()))
	_, ok = observedHeartbeat(ix, "node-b")
	assert.False(t, ok)

	invs.Delete(testInventory("node-b", webProfile))
	assert.False(t, ix.Profile("node-b", webProfile.Path).HasInventory)
}

func TestCacheByObject(t *testing.T) {
	byObject := CacheByObject(leaseNS)
	transform := func(obj any) any {
		t.Helper()
		for k, v := range byObject {
			if k.GetObjectKind() != nil && sameType(k, obj) {
				out, err := v.Transform(obj)
				require.NoError(t, err)
				return out
			}
		}
		t.Fatalf("no cache options for %T", obj)
		return nil
	}
	managed := []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}

	node := testNode("node-a", map[string]string{"zone": "a", "kubernetes.io/hostname": "node-a"})
	node.UID, node.ResourceVersion = "uid-a", "7"
	node.ManagedFields, node.Annotations = managed, map[string]string{"big": "x"}
	node.OwnerReferences = []metav1.OwnerReference{{Kind: "Machine", Name: "m-a"}}
	node.Spec = corev1.NodeSpec{PodCIDR: "10.0.0.0/24", ProviderID: "aws:///i-0", Unschedulable: true,
		Taints: []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule, TimeAdded: &metav1.Time{}}}}
	node.Status.Images = []corev1.ContainerImage{{Names: []string{"nginx"}}}
	assert.Equal(t, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a", UID: "uid-a", ResourceVersion: "7", Labels: map[string]string{"zone": "a", "kubernetes.io/hostname": "node-a"}},
		Spec:       corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}},
	}, transform(node), "a Node keeps its identity and what scheduling reads")

	withWarnings := webProfile
	withWarnings.Warnings = []string{"archMap is ignored"}
	withWarnings.SilentActions = []string{"SCMP_ACT_ERRNO"}
	inv := testInventory("node-a", withWarnings, dbProfile)
	inv.ManagedFields = managed
	inv.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "node-a"}}
	inv.Status.ObservedTime = &metav1.Time{}
	inv.Status.Conditions = append([]metav1.Condition{{Type: "Other", Status: metav1.ConditionTrue}}, inv.Status.Conditions...)
	inv.Status.Recordings = []v1alpha1.RecordingStatus{{Namespace: "shop", Workload: "Deployment/web", Container: "app"}}
	assert.Equal(t, &v1alpha1.NodeSeccompInventory{
		ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
		Status: v1alpha1.NodeSeccompInventoryStatus{
			Profiles:     []v1alpha1.ProfileStatus{dbProfile, webProfile},
			ProfileCount: 2, InvalidCount: 1,
			Conditions: []metav1.Condition{{Type: v1alpha1.InventoryTruncated, Status: metav1.ConditionFalse}},
		},
	}, transform(inv), "an inventory keeps its profiles sorted by path, without warnings, and the Truncated condition's status")

	lease := testLease(leaseNS, policy.LeaseName("node-a"), time.Time{})
	lease.ManagedFields = managed
	lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "node-a"}}
	lease.Spec.LeaseDurationSeconds = new(int32(40))
	assert.Equal(t, testLease(leaseNS, policy.LeaseName("node-a"), time.Time{}), transform(lease), "a Lease keeps what policy.ReadLease reads")
	for k, v := range byObject {
		if _, isLease := k.(*coordinationv1.Lease); isLease {
			assert.Equal(t, []string{leaseNS}, slices.Collect(maps.Keys(v.Namespaces)), "Leases only from the agents' namespace")
		}
	}
}

func sameType(a, b any) bool {
	switch a.(type) {
	case *corev1.Node:
		_, ok := b.(*corev1.Node)
		return ok
	case *v1alpha1.NodeSeccompInventory:
		_, ok := b.(*v1alpha1.NodeSeccompInventory)
		return ok
	case *coordinationv1.Lease:
		_, ok := b.(*coordinationv1.Lease)
		return ok
	}
	return false
}

// observedHeartbeat returns when the index last observed the node's agent renew its Lease.
func observedHeartbeat(ix *Index, node string) (time.Time, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.nodes[node]
	if st == nil || !st.seen {
		return time.Time{}, false
	}
	return st.heartbeat, true
}

func TestIndexTruncatedInventory(t *testing.T) {
	ix := NewEmptyIndex(nil)
	listed := []v1alpha1.ProfileStatus{{Path: "a.json", Valid: true}}
	all := []v1alpha1.ProfileStatus{listed[0], {Path: "b.json", Valid: true}, {Path: "c.json", Valid: true}}
	inv := &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Status: statusOf(all, RuntimeContainerd)}
	inv.Status.Profiles = listed // as if the agent had kept one
	inv.Status.Conditions[0].Status = metav1.ConditionTrue
	ix.setInventory(inv)
	assert.Equal(t, 2, ix.Profile("node-a", "b.json").Omitted, "a truncated inventory: a path it does not list may be left out")
	assert.True(t, ix.Profile("node-a", "a.json").Found)

	ix.setInventory(testInventory("node-a", all...))
	assert.Equal(t, 0, ix.Profile("node-a", "b.json").Omitted, "complete again")
	ix.deleteInventory(inv)
	assert.Equal(t, policy.ProfileLookup{}, ix.Profile("node-a", "b.json"))
}

func TestIndexSortsProfiles(t *testing.T) {
	ix := NewEmptyIndex(nil)
	inv := testInventory("node-a", webProfile, dbProfile) // web before db: not sorted by path
	ix.setInventory(inv)
	assert.True(t, ix.Profile("node-a", webProfile.Path).Found)
	assert.True(t, ix.Profile("node-a", dbProfile.Path).Found)
	assert.False(t, ix.Profile("node-a", "profiles/other.json").Found)
	assert.Equal(t, []v1alpha1.ProfileStatus{webProfile, dbProfile}, inv.Status.Profiles, "the cached object is not modified")

	sorted := testInventory("node-b", dbProfile, webProfile)
	ix.setInventory(sorted)
	assert.Same(t, &sorted.Status.Profiles[0], &ix.nodes["node-b"].profiles[0], "a sorted list is shared, not copied")
}
