package reporter

import (
	"context"
	"errors"
	"testing"
	"time"

	openreportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testOptions() Options {
	o := DefaultOptions()
	o.ReleaseNamespace = v1alpha1.DefaultReleaseNamespace
	return o
}

func newTestReporter(objs ...client.Object) (*Reporter, client.Client) {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.ClusterSeccompPolicy{}).Build()
	r := New(c, c, nil, testOptions())
	r.Clock = clocktesting.NewFakeClock(now)
	return r, c
}

func unconfinedDeployment(ns, name string) *appsv1.Deployment {
	lbls := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: name, Image: "registry.example/" + name,
				SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			}}}},
		},
	}
}

func namespace(name, mode string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{policy.ModeLabel: mode}}}
}

func getReport(t *testing.T, c client.Client, ns string) *openreportsv1alpha1.Report {
	t.Helper()
	rep := &openreportsv1alpha1.Report{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: ReportName}, rep))
	return rep
}

// TestSync: the reports follow the cluster, are rewritten only when their
// content changes, and those with nothing left to report are deleted;
// reports the reporter does not own are never touched.
func TestSync(t *testing.T) {
	ctx := context.Background()
	foreign := &openreportsv1alpha1.Report{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "kyverno-report"}, Source: "kyverno"}
	csp := &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName}}
	r, c := newTestReporter(csp, namespace("shop", "warn"), namespace("idle", "audit"), unconfinedDeployment("shop", "web"), foreign)

	require.NoError(t, r.Sync(ctx))
	rep := getReport(t, c, "shop")
	assert.Equal(t, map[string]string{ManagedByLabel: Source}, rep.Labels)
	assert.Equal(t, openreportsv1alpha1.ReportSummary{Fail: 1}, rep.Summary)
	require.Len(t, rep.Results, 1)
	res := rep.Results[0]
	assert.Equal(t, "default", res.Policy)
	assert.Equal(t, "UnconfinedForbidden", res.Rule)
	assert.Equal(t, openreportsv1alpha1.Result("fail"), res.Result)
	assert.Equal(t, []corev1.ObjectReference{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", UID: "uid-web"}}, res.Subjects)
	assert.Equal(t, `pod "(generated name)" is forbidden by seccomp-guard: spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`, res.Description)
	assert.Equal(t, now.Unix(), res.Timestamp.Seconds)

	cluster := &openreportsv1alpha1.ClusterReport{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: ReportName}, cluster))
	assert.Equal(t, openreportsv1alpha1.ReportSummary{Pass: 1, Fail: 1}, cluster.Summary, "shop would deny at enforce; idle is ready")
	err := c.Get(ctx, client.ObjectKey{Namespace: "idle", Name: ReportName}, &openreportsv1alpha1.Report{})
	assert.True(t, apierrors.IsNotFound(err), "a namespace with no object has no report: %v", err)

	t.Run("unchanged: no write", func(t *testing.T) {
		rv := getReport(t, c, "shop").ResourceVersion
		r.Clock.(*clocktesting.FakeClock).Step(time.Minute)
		require.NoError(t, r.Sync(ctx))
		assert.Equal(t, rv, getReport(t, c, "shop").ResourceVersion)
	})

	t.Run("the namespace moves down to audit: warn", func(t *testing.T) {
		ns := &corev1.Namespace{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "shop"}, ns))
		ns.Labels[policy.ModeLabel] = "audit"
		require.NoError(t, c.Update(ctx, ns))
		require.NoError(t, r.Sync(ctx))
		rep := getReport(t, c, "shop")
		assert.Equal(t, openreportsv1alpha1.ReportSummary{Warn: 1}, rep.Summary)
		assert.Equal(t, "warn", rep.Results[0].Properties["nextMode"])
	})

	t.Run("nothing left to report: deleted, the foreign report kept", func(t *testing.T) {
		require.NoError(t, c.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}))
		require.NoError(t, r.Sync(ctx))
		err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: ReportName}, &openreportsv1alpha1.Report{})
		assert.True(t, apierrors.IsNotFound(err), "%v", err)
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(foreign), &openreportsv1alpha1.Report{}))
	})
}

// TestStatusWriter: the ladder lands in the policy's status, at most once
// per interval, and not again when only the time changed.
func TestStatusWriter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	csp := &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName}}
	var patches int
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(csp).
		WithStatusSubresource(&v1alpha1.ClusterSeccompPolicy{}).
		WithInterceptorFuncs(interceptorCountingStatusPatches(&patches)).Build()
	clk := clocktesting.NewFakeClock(now)
	s := statusWriter{interval: 10 * time.Second, offers: make(chan *v1alpha1.LadderStatus, 1)}
	done := make(chan struct{})
	go func() { s.run(ctx, c, clk); close(done) }()

	ladder := func(warn int32) *v1alpha1.LadderStatus {
		return &v1alpha1.LadderStatus{Warn: v1alpha1.LadderStep{Namespaces: 1, Violating: warn, Summary: "1 ns"}, ObservedTime: metav1.NewTime(clk.Now())}
	}
	read := func() *v1alpha1.LadderStatus {
		got := &v1alpha1.ClusterSeccompPolicy{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Name: v1alpha1.DefaultPolicyName}, got))
		return got.Status.Ladder
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			require.True(t, time.Now().Before(deadline), "waiting for %s", what)
			time.Sleep(time.Millisecond)
		}
	}

	s.offer(ladder(2))
	eventually("the first write", func() bool { l := read(); return l != nil && l.Warn.Violating == 2 })
	s.offer(ladder(3))
	eventually("a timer for the rest of the interval", func() bool { return clk.Waiters() == 1 })
	assert.Equal(t, int32(2), read().Warn.Violating, "within the interval: not yet")
	clk.Step(10 * time.Second)
	eventually("the second write", func() bool { return read().Warn.Violating == 3 })
	clk.Step(time.Minute)
	s.offer(ladder(3))
	s.offer(ladder(3))
	eventually("the offers read", func() bool { return len(s.offers) == 0 })
	cancel()
	<-done
	assert.Equal(t, 2, patches, "the same counts at a later time are not written again")
}

// TestLoopDebounces: a burst of changes makes one rescan, after the quiet
// period; changes that never stop are rescanned at MaxWait.
func TestLoopDebounces(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := newTestReporter()
	r.Opts.Debounce, r.Opts.MaxWait, r.Opts.Resync = 2*time.Second, 5*time.Second, time.Hour
	clk := r.Clock.(*clocktesting.FakeClock)
	rearmed := make(chan struct{}, 100)
	r.rearmed = func() { rearmed <- struct{}{} }
	syncs := make(chan time.Time, 10)
	// The burst comes before the loop runs: sent while the loop runs, a
	// notification still queued when the clock steps would re-arm the
	// quiet period after the step, at a time the fake clock never reaches.
	for range 50 {
		r.Notify()
	}
	go func() {
		_ = r.loop(ctx, func(context.Context) error { syncs <- clk.Now(); return nil })
	}()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for clk.Waiters() != n {
			require.True(t, time.Now().Before(deadline), "waiting for %d clock waiters, have %d", n, clk.Waiters())
			time.Sleep(time.Millisecond)
		}
	}
	start := clk.Now()

	waitFor(2) // the resync ticker and the quiet period
	clk.Step(2 * time.Second)
	select {
	case at := <-syncs:
		assert.Equal(t, start.Add(2*time.Second), at, "50 notifications, one rescan after the quiet period")
	case <-time.After(10 * time.Second):
		t.Fatal("no rescan after the quiet period")
	}
	waitFor(1)

	// A change every second: the quiet period never comes; MaxWait does.
	for len(rearmed) > 0 {
		<-rearmed // from the burst
	}
	begin := clk.Now()
	r.Notify()
	waitFor(2)
	for range 6 {
		clk.Step(time.Second)
		r.Notify()
		select {
		case <-rearmed:
		case at := <-syncs:
			assert.Equal(t, begin.Add(5*time.Second), at, "rescanned at MaxWait")
			return
		}
	}
	t.Fatal("no rescan within MaxWait while changes kept coming")
}

func TestRelevant(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "1", Labels: map[string]string{"a": "b"}}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: "1"}}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", ResourceVersion: "1", Generation: 1}}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l", ResourceVersion: "1"}}
	inv := &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: "1"}}
	bump := func(o client.Object, change func(client.Object)) client.Object {
		n := o.DeepCopyObject().(client.Object)
		n.SetResourceVersion("2")
		if change != nil {
			change(n)
		}
		return n
	}
	cases := []struct {
		name     string
		old, new client.Object
		want     bool
	}{
		{"resync of the same version", pod, pod.DeepCopy(), false},
		{"pod container statuses only", pod, bump(pod, func(o client.Object) {
			o.(*corev1.Pod).Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c"}}
		}), false},
		{"pod scheduled", pod, bump(pod, func(o client.Object) { o.(*corev1.Pod).Spec.NodeName = "n" }), true},
		{"pod running", pod, bump(pod, func(o client.Object) { o.(*corev1.Pod).Status.Phase = corev1.PodRunning }), true},
		{"pod labels", pod, bump(pod, func(o client.Object) { o.SetLabels(map[string]string{"a": "c"}) }), true},
		{"node heartbeat", node, bump(node, func(o client.Object) {
			o.(*corev1.Node).Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady}}
		}), false},
		{"node tainted", node, bump(node, func(o client.Object) {
			o.(*corev1.Node).Spec.Taints = []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}
		}), true},
		{"deployment status", deploy, bump(deploy, func(o client.Object) { o.(*appsv1.Deployment).Status.Replicas = 3 }), false},
		{"deployment spec", deploy, bump(deploy, func(o client.Object) { o.SetGeneration(2) }), true},
		{"lease renewed", lease, bump(lease, nil), false},
		{"inventory written", inv, bump(inv, nil), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Relevant(tc.old, tc.new))
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"defaults", func(*Options) {}, ""},
		{"format", func(o *Options) { o.Format = "yaml" }, `--format "yaml" is not a report format; use openreports (openreports.io/v1alpha1 Report, ClusterReport) or wgpolicyk8s (wgpolicyk8s.io/v1alpha2 PolicyReport, ClusterPolicyReport)`},
		{"no release namespace", func(o *Options) { o.ReleaseNamespace = "" }, "--release-namespace is required (the namespace of the agents' Leases; the chart sets it, and $POD_NAMESPACE is its default)"},
		{"max wait under debounce", func(o *Options) { o.MaxWait = time.Second }, "--max-wait 1s is too short: it must be at least 2s"},
		{"max results", func(o *Options) { o.MaxResults = 0 }, "--max-results 0 is out of range: use 1 to 5000 (a report must stay under etcd's 1.5 MiB object limit)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			tc.change(&o)
			err := o.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestCRDHint(t *testing.T) {
	noMatch := &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "wgpolicyk8s.io", Kind: "PolicyReport"}, SearchedVersions: []string{"v1alpha2"}}
	assert.Equal(t, " (are the CRDs policyreports.wgpolicyk8s.io and clusterpolicyreports.wgpolicyk8s.io installed? `kubectl get crd policyreports.wgpolicyk8s.io clusterpolicyreports.wgpolicyk8s.io`; the chart installs them with reporter.installCRDs=true, see docs/install.md)", crdHint(noMatch, FormatWGPolicy))
	assert.Equal(t, "", crdHint(errors.New("connection refused"), FormatOpenReports))
}

func interceptorCountingStatusPatches(n *int) interceptor.Funcs {
	return interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			*n++
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}
}
