package reporter

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// memReader answers List and Get from memory with a deep copy of every
// object, as the manager's informer cache does: the benchmark measures the
// reporter's own cost, not a fake API server's.
type memReader struct {
	byKind map[string][]client.Object // list kind -> objects
}

func (m *memReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	gvk, err := apiutil.GVKForObject(obj, scheme.Scheme)
	if err != nil {
		return err
	}
	for _, o := range m.byKind[gvk.Kind+"List"] {
		if o.GetName() == key.Name && o.GetNamespace() == key.Namespace {
			return scheme.Scheme.Convert(o.DeepCopyObject(), obj, nil)
		}
	}
	return apiNotFound(gvk.Kind, key)
}

func (m *memReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	gvk, err := apiutil.GVKForObject(list, scheme.Scheme)
	if err != nil {
		return err
	}
	o := (&client.ListOptions{}).ApplyOptions(opts)
	var items []runtime.Object
	for _, obj := range m.byKind[gvk.Kind] {
		if o.Namespace != "" && obj.GetNamespace() != o.Namespace {
			continue
		}
		items = append(items, obj.DeepCopyObject())
	}
	return meta.SetList(list, items)
}

func apiNotFound(kind string, key client.ObjectKey) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: kind}, key.Name)
}

// cluster5000 is 50 namespaces, each with 10 Deployments of 10 running
// pods (5,000 pods, 500 ReplicaSets), a tenth of them with a Localhost
// profile; 20 nodes with inventories and fresh heartbeats.
func cluster5000(now time.Time) *memReader {
	m := &memReader{byKind: map[string][]client.Object{}}
	add := func(list string, objs ...client.Object) { m.byKind[list] = append(m.byKind[list], objs...) }
	add("ClusterSeccompPolicyList", &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName}})
	for n := range 20 {
		node := fmt.Sprintf("node-%02d", n)
		add("NodeList", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}})
		add("NodeSeccompInventoryList", &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: v1alpha1.NodeSeccompInventoryStatus{
			Runtime: "containerd", Profiles: []v1alpha1.ProfileStatus{{Path: "profiles/app.json", SHA256: "1111", Valid: true, DefaultAction: "SCMP_ACT_ERRNO"}},
		}})
		add("LeaseList", &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: policy.LeaseName(node), Namespace: v1alpha1.DefaultReleaseNamespace},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(node), RenewTime: &metav1.MicroTime{Time: now}}})
	}
	modes := []string{"disabled", "audit", "warn", "enforce"}
	pods := 0
	for ns := range 50 {
		nsName := fmt.Sprintf("team-%02d", ns)
		add("NamespaceList", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName, Labels: map[string]string{policy.ModeLabel: modes[ns%4]}}})
		for d := range 10 {
			name := fmt.Sprintf("app-%d", d)
			sc := &corev1.SecurityContext{}
			switch d {
			case 0:
				sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
			case 1:
				sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/app.json")}
			}
			tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "main", Image: "registry.example/" + name, SecurityContext: sc},
				{Name: "sidecar", Image: "registry.example/sidecar"},
			}}}
			dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: name, UID: types.UID(nsName + "/" + name)}, Spec: appsv1.DeploymentSpec{Template: tmpl}}
			rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: name + "-5d8f", UID: types.UID(nsName + "/" + name + "-rs"),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: dep.UID, Controller: ptr.To(true)}}}, Spec: appsv1.ReplicaSetSpec{Template: tmpl}}
			add("DeploymentList", dep)
			add("ReplicaSetList", rs)
			for p := range 10 {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: fmt.Sprintf("%s-5d8f-%05d", name, p), UID: types.UID(fmt.Sprintf("%s/%s/%d", nsName, name, p)),
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
					Spec:   *tmpl.Spec.DeepCopy(),
					Status: corev1.PodStatus{Phase: corev1.PodRunning}}
				pod.Spec.NodeName = fmt.Sprintf("node-%02d", pods%20)
				add("PodList", pod)
				pods++
			}
		}
	}
	return m
}

// BenchmarkRescan5000Pods is one full rescan of a cluster of 5,000 pods:
// the audit of every top-level object at two modes, the reports, and the
// writes when nothing changed (the steady state after the first rescan).
// Reported in docs/performance.md#reporter.
func BenchmarkRescan5000Pods(b *testing.B) {
	ctx := context.Background()
	reader := cluster5000(now)
	writer := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithStatusSubresource(&v1alpha1.ClusterSeccompPolicy{}).Build()
	r := New(writer, &cachedReports{memReader: reader, writer: writer}, nil, testOptions())
	r.Clock = clocktesting.NewFakeClock(now)
	if err := r.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := r.Sync(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// cachedReports reads reports from the writer (what the reporter wrote)
// and everything else from memory.
type cachedReports struct {
	*memReader
	writer client.Client
}

func (c *cachedReports) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	gvk, err := apiutil.GVKForObject(list, scheme.Scheme)
	if err == nil && (gvk.Group == "openreports.io" || gvk.Group == "wgpolicyk8s.io") {
		return c.writer.List(ctx, list, opts...)
	}
	return c.memReader.List(ctx, list, opts...)
}

// BenchmarkAudit5000Pods is the baseline of BenchmarkRescan5000Pods: the
// same cluster through `seccomp-guard audit`'s evaluation alone. The ratio
// of the two is the reporter's own cost (reports, digests, writes).
func BenchmarkAudit5000Pods(b *testing.B) {
	ctx := context.Background()
	reader := cluster5000(now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cli.Audit(ctx, reader, cli.AuditOptions{ReleaseNamespace: v1alpha1.DefaultReleaseNamespace, Now: now}); err != nil {
			b.Fatal(err)
		}
	}
}
