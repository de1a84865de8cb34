package policy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

var testNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// basePod is a minimal valid pod with one init container and two containers.
func basePod() *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "sidecar", Image: "envoy"}},
		},
	}
}

func tweakPod(tweak func(*corev1.Pod)) *corev1.Pod {
	p := basePod()
	if tweak != nil {
		tweak(p)
	}
	return p
}

func runtimeDefault() *corev1.SeccompProfile {
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
}

func unconfined() *corev1.SeccompProfile {
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
}

func localhost(p string) *corev1.SeccompProfile {
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &p}
}

func podProfile(sp *corev1.SeccompProfile) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: sp} }
}

func containerProfile(i int, sp *corev1.SeccompProfile) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[i].SecurityContext = &corev1.SecurityContext{SeccompProfile: sp}
	}
}

func all(tweaks ...func(*corev1.Pod)) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		for _, t := range tweaks {
			t(p)
		}
	}
}

func namespace(mode string) Namespace {
	ns := Namespace{Name: "shop", Labels: map[string]string{}, Annotations: map[string]string{}}
	if mode != "" {
		ns.Labels[ModeLabel] = mode
	}
	return ns
}

func create(obj runtime.Object, ns Namespace) Request {
	return Request{Operation: admissionv1.Create, Namespace: ns, Username: "alice", Object: obj, Now: testNow}
}

func compile(t *testing.T, tweak func(*v1alpha1.ClusterSeccompPolicySpec)) *Policy {
	t.Helper()
	obj := &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 1}}
	if tweak != nil {
		tweak(&obj.Spec)
	}
	p, errs := Compile(obj)
	require.Empty(t, errs)
	return p
}

func patchJSON(t *testing.T, ps []Patch) string {
	t.Helper()
	if len(ps) == 0 {
		return ""
	}
	b, err := json.Marshal(ps)
	require.NoError(t, err)
	return string(b)
}

// node builds a Node with labels and taints.
func node(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

// inventory builds a NodeSeccompInventory listing profiles.
func inventory(nodeName string, profiles ...v1alpha1.ProfileStatus) *v1alpha1.NodeSeccompInventory {
	return &v1alpha1.NodeSeccompInventory{
		ObjectMeta: metav1.ObjectMeta{Name: nodeName},
		Status:     v1alpha1.NodeSeccompInventoryStatus{Profiles: profiles},
	}
}

func validProfile(path, digest string) v1alpha1.ProfileStatus {
	return v1alpha1.ProfileStatus{Path: path, SHA256: digest, Size: 100, Valid: true, DefaultAction: "SCMP_ACT_ERRNO"}
}
