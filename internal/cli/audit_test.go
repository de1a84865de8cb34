package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Regenerate the golden files after reviewing a change with
//
//	SECCOMP_GUARD_UPDATE_GOLDEN=1 go test ./internal/cli -run TestAuditGolden
var updateGolden = os.Getenv("SECCOMP_GUARD_UPDATE_GOLDEN") == "1"

var auditNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// auditCluster is a cluster with a namespace in each mode, an exempt one,
// workloads with the objects their controllers made, bare, privileged,
// mirror and Windows pods, three nodes with inventories, and running pods
// whose Localhost profile is gone from their node or changed on it.
func auditCluster() []client.Object {
	ns := func(name, mode string) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if mode != "" {
			n.Labels = map[string]string{policy.ModeLabel: mode}
		}
		return n
	}
	node := func(name string) *corev1.Node { return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	inv := func(node string, ps ...v1alpha1.ProfileStatus) *v1alpha1.NodeSeccompInventory {
		return &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: v1alpha1.NodeSeccompInventoryStatus{Profiles: ps, Runtime: "containerd"}}
	}
	prof := func(p, digest string) v1alpha1.ProfileStatus {
		return v1alpha1.ProfileStatus{Path: p, SHA256: digest, Valid: true, DefaultAction: "SCMP_ACT_ERRNO"}
	}
	lease := func(node string) *coordinationv1.Lease {
		return &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: policy.LeaseName(node), Namespace: v1alpha1.DefaultReleaseNamespace},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), RenewTime: &metav1.MicroTime{Time: auditNow.Add(-time.Minute)}},
		}
	}
	meta := func(ns, name string, owner client.Object, kind string, lbls map[string]string) metav1.ObjectMeta {
		m := metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name), Labels: lbls}
		if owner != nil {
			m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}}
		}
		return m
	}
	container := func(name string, sc *corev1.SecurityContext) corev1.Container {
		return corev1.Container{Name: name, Image: "registry.example/" + name, SecurityContext: sc}
	}
	unconfined := &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
	localhost := func(p string) *corev1.SecurityContext {
		return &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To(p)}}
	}
	template := func(lbls map[string]string, cs ...corev1.Container) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}, Spec: corev1.PodSpec{Containers: cs}}
	}
	running := func(m metav1.ObjectMeta, node string, cs ...corev1.Container) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: m, Spec: corev1.PodSpec{NodeName: node, Containers: cs}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}

	objs := []client.Object{
		&v1alpha1.ClusterSeccompPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName},
			Spec:       v1alpha1.ClusterSeccompPolicySpec{Exemptions: v1alpha1.Exemptions{Namespaces: []string{"kube-system"}}},
		},
		ns("legacy", "disabled"), ns("tenant", "audit"), ns("shop", "warn"), ns("prod", "enforce"), ns("kube-system", ""),
		node("node-a"), node("node-b"), node("node-c"),
		inv("node-a", prof("profiles/app.json", "1111111111111111")),
		inv("node-b", prof("profiles/app.json", "1111111111111111"), prof("profiles/gone.json", "3333333333333333")),
		inv("node-c", prof("profiles/app.json", "2222222222222222"), prof("profiles/gone.json", "3333333333333333")),
		lease("node-a"), lease("node-b"), lease("node-c"),
	}

	// legacy (disabled): an Unconfined Deployment, its ReplicaSet and three pods.
	web := &appsv1.Deployment{ObjectMeta: meta("legacy", "web", nil, "", map[string]string{"app": "web"}),
		Spec: appsv1.DeploymentSpec{Template: template(map[string]string{"app": "web"}, container("web", unconfined))}}
	webRS := &appsv1.ReplicaSet{ObjectMeta: meta("legacy", "web-5d8f", web, "Deployment", map[string]string{"app": "web"}),
		Spec: appsv1.ReplicaSetSpec{Template: web.Spec.Template}}
	objs = append(objs, web, webRS)
	for _, name := range []string{"web-5d8f-aaaaa", "web-5d8f-bbbbb", "web-5d8f-ccccc"} {
		objs = append(objs, running(meta("legacy", name, webRS, "ReplicaSet", map[string]string{"app": "web"}), "node-a", container("web", unconfined)))
	}

	// tenant (audit): a Deployment whose running pod's profile changed on
	// its node, and a bare pod whose profile is gone from its node.
	cache := &appsv1.Deployment{ObjectMeta: meta("tenant", "cache", nil, "", map[string]string{"app": "cache"}),
		Spec: appsv1.DeploymentSpec{Template: template(map[string]string{"app": "cache"}, container("cache", localhost("profiles/app.json")))}}
	cacheRS := &appsv1.ReplicaSet{ObjectMeta: meta("tenant", "cache-7c9b", cache, "Deployment", nil), Spec: appsv1.ReplicaSetSpec{Template: cache.Spec.Template}}
	objs = append(objs, cache, cacheRS,
		running(meta("tenant", "cache-7c9b-xxxxx", cacheRS, "ReplicaSet", map[string]string{"app": "cache"}), "node-c", container("cache", localhost("profiles/app.json"))),
		running(meta("tenant", "worker", nil, "", map[string]string{"app": "worker"}), "node-a", container("worker", localhost("profiles/gone.json"))),
	)

	// shop (warn): a Deployment to default, a CronJob with a privileged
	// container (and its Job and pod), an Unconfined bare pod, a mirror pod
	// and a Windows pod.
	api := &appsv1.Deployment{ObjectMeta: meta("shop", "api", nil, "", nil),
		Spec: appsv1.DeploymentSpec{Template: template(nil, container("api", nil))}}
	nightly := &batchv1.CronJob{ObjectMeta: meta("shop", "nightly", nil, "", nil),
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: template(nil, container("backup", &corev1.SecurityContext{Privileged: ptr.To(true)}))}}}}
	nightlyJob := &batchv1.Job{ObjectMeta: meta("shop", "nightly-29000000", nightly, "CronJob", nil), Spec: nightly.Spec.JobTemplate.Spec}
	mirrorMeta := meta("shop", "static-web-node-a", nil, "", nil)
	mirrorMeta.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "abc"}
	mirrorMeta.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "node-a", UID: "node-a-uid", Controller: ptr.To(true)}}
	win := running(meta("shop", "win", nil, "", nil), "node-b", container("iis", nil))
	win.Spec.OS = &corev1.PodOS{Name: corev1.Windows}
	objs = append(objs, api, nightly, nightlyJob,
		&corev1.Pod{ObjectMeta: meta("shop", "nightly-29000000-q7x2k", nightlyJob, "Job", nil), Spec: nightlyJob.Spec.Template.Spec, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
		running(meta("shop", "debug", nil, "", nil), "node-b", container("shell", unconfined)),
		running(mirrorMeta, "node-a", container("static-web", unconfined)),
		win,
	)

	// prod (enforce): a DaemonSet with RuntimeDefault.
	objs = append(objs, &appsv1.DaemonSet{ObjectMeta: meta("prod", "agent", nil, "", nil),
		Spec: appsv1.DaemonSetSpec{Template: template(nil, container("agent", &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}))}})

	// kube-system (exempt): an Unconfined bare pod.
	objs = append(objs, running(meta("kube-system", "kube-proxy-x", nil, "", nil), "node-a", container("kube-proxy", unconfined)))
	return objs
}

func fakeCluster(objs ...client.Object) client.Reader {
	return fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).Build()
}

func TestAuditGolden(t *testing.T) {
	sel, err := labels.Parse("app in (web,worker)")
	require.NoError(t, err)
	tests := []struct {
		name string
		opts AuditOptions
	}{
		{name: "all", opts: AuditOptions{}},
		{name: "namespace-tenant", opts: AuditOptions{Namespace: "tenant"}},
		{name: "selector", opts: AuditOptions{Selector: sel}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Now, opts.ReleaseNamespace = auditNow, v1alpha1.DefaultReleaseNamespace
			r, err := Audit(context.Background(), fakeCluster(auditCluster()...), opts)
			require.NoError(t, err)
			var text, js bytes.Buffer
			require.NoError(t, WriteAuditText(&text, r))
			require.NoError(t, WriteAuditJSON(&js, r))
			for ext, got := range map[string][]byte{"txt": text.Bytes(), "json": js.Bytes()} {
				path := filepath.Join("testdata", "audit", tt.name+"."+ext+".golden")
				if updateGolden {
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, got, 0o644))
					continue
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1")
				assert.Equal(t, string(want), string(got), "%s is stale; review the change, then regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1", path)
			}
		})
	}
}

func TestNextMode(t *testing.T) {
	tests := []struct {
		name     string
		mode     v1alpha1.Mode
		wantNext v1alpha1.Mode
	}{
		{name: "disabled to audit", mode: v1alpha1.ModeDisabled, wantNext: v1alpha1.ModeAudit},
		{name: "audit to warn", mode: v1alpha1.ModeAudit, wantNext: v1alpha1.ModeWarn},
		{name: "warn to enforce", mode: v1alpha1.ModeWarn, wantNext: v1alpha1.ModeEnforce},
		{name: "enforce stays", mode: v1alpha1.ModeEnforce, wantNext: v1alpha1.ModeEnforce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantNext, policy.NextMode(tt.mode))
		})
	}
}

func TestRecommendation(t *testing.T) {
	deny := func(kind, name string, rs ...policy.Reason) ObjectAudit {
		return ObjectAudit{Kind: kind, Name: name, Status: AuditDeny, Reasons: rs}
	}
	ok := ObjectAudit{Kind: "Deployment", Name: "fine", Status: AuditDefault}
	many := make([]ObjectAudit, policy.MaxListed+1)
	for i := range many {
		many[i] = deny("Pod", "p", policy.ReasonUnconfinedForbidden)
	}
	tests := []struct {
		name string
		na   NamespaceAudit
		want string
	}{
		{name: "exempt", na: NamespaceAudit{Name: "kube-system", Mode: v1alpha1.ModeDisabled, NextMode: v1alpha1.ModeAudit, Exempt: true},
			want: `exempt (spec.exemptions.namespaces): seccomp-guard evaluates nothing in namespace "kube-system" at any mode`},
		{name: "nothing to deny at audit", na: NamespaceAudit{Mode: v1alpha1.ModeDisabled, NextMode: v1alpha1.ModeAudit, Objects: []ObjectAudit{ok}},
			want: "ready for audit"},
		{name: "nothing to deny at enforce", na: NamespaceAudit{Mode: v1alpha1.ModeWarn, NextMode: v1alpha1.ModeEnforce, Objects: []ObjectAudit{ok}},
			want: "ready for enforce"},
		{name: "already enforced", na: NamespaceAudit{Mode: v1alpha1.ModeEnforce, NextMode: v1alpha1.ModeEnforce},
			want: "at enforce: nothing would be denied"},
		{name: "violations before warn", na: NamespaceAudit{Mode: v1alpha1.ModeAudit, NextMode: v1alpha1.ModeWarn, Objects: []ObjectAudit{ok, deny("Deployment", "web", policy.ReasonUnconfinedForbidden)}},
			want: "ready for warn, which denies nothing; 1 object would be denied at enforce: Deployment web (UnconfinedForbidden)"},
		{name: "violations before enforce", na: NamespaceAudit{Mode: v1alpha1.ModeWarn, NextMode: v1alpha1.ModeEnforce, Objects: []ObjectAudit{
			deny("Pod", "debug", policy.ReasonUnconfinedForbidden, policy.ReasonPrivilegedForbidden), deny("CronJob", "nightly", policy.ReasonProfileMissing)}},
			want: "2 objects would be denied at enforce: Pod debug (UnconfinedForbidden, PrivilegedForbidden), CronJob nightly (ProfileMissing)"},
		{name: "capped", na: NamespaceAudit{Mode: v1alpha1.ModeEnforce, NextMode: v1alpha1.ModeEnforce, Objects: many},
			want: "21 objects would be denied at enforce: " + strings.Repeat("Pod p (UnconfinedForbidden), ", policy.MaxListed) + "and 1 more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Recommendation(tt.na))
		})
	}
}

// TestAuditLadderStep evaluates one object in a namespace at each mode: the
// verdicts at the mode and the next step, and the exact denial message.
func TestAuditLadderStep(t *testing.T) {
	const msg = `pod "(generated name)" is forbidden by seccomp-guard: spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "ns" (UnconfinedForbidden); remove it or use RuntimeDefault`
	tests := []struct {
		name, mode           string
		wantNow, wantNext    string
		wantNextMode         v1alpha1.Mode
		wantDenied, wantViol int
	}{
		{name: "disabled", mode: "disabled", wantNow: "skipped", wantNext: "would-deny", wantNextMode: v1alpha1.ModeAudit, wantViol: 1},
		{name: "audit", mode: "audit", wantNow: "would-deny", wantNext: "would-deny", wantNextMode: v1alpha1.ModeWarn, wantViol: 1},
		{name: "warn", mode: "warn", wantNow: "would-deny", wantNext: "denied", wantNextMode: v1alpha1.ModeEnforce, wantViol: 1, wantDenied: 1},
		{name: "enforce", mode: "enforce", wantNow: "denied", wantNext: "denied", wantNextMode: v1alpha1.ModeEnforce, wantViol: 1, wantDenied: 1},
		{name: "invalid label is enforced", mode: "off", wantNow: "denied", wantNext: "denied", wantNextMode: v1alpha1.ModeEnforce, wantViol: 1, wantDenied: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: map[string]string{policy.ModeLabel: tt.mode}}}
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "web"},
				Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
					SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}}}}}}}
			r, err := Audit(context.Background(), fakeCluster(ns, d), AuditOptions{Now: auditNow})
			require.NoError(t, err)
			require.Len(t, r.Namespaces, 1)
			na := r.Namespaces[0]
			assert.Equal(t, tt.wantNextMode, na.NextMode)
			require.Len(t, na.Objects, 1)
			o := na.Objects[0]
			assert.Equal(t, tt.wantNow, o.Now)
			assert.Equal(t, tt.wantNext, o.Next)
			assert.Equal(t, AuditDeny, o.Status)
			assert.Equal(t, msg, o.Message)
			assert.Equal(t, tt.wantViol, r.Summary.Violating)
			assert.Equal(t, tt.wantDenied, r.Summary.Denied)
		})
	}
}

func TestAuditNamespaceNotFound(t *testing.T) {
	_, err := Audit(context.Background(), fakeCluster(), AuditOptions{Namespace: "nope", Now: auditNow})
	require.Error(t, err)
	assert.True(t, IsInputError(err))
	assert.Equal(t, `namespace "nope" does not exist; check --namespace (kubectl get namespaces)`, err.Error())
}
