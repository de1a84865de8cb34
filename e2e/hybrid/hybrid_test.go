package hybrid_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const profilePath = "profiles/p.json"

// noNodes is the webhook's warning for a Localhost profile at field when the
// cluster has no nodes (policy/coverage_test.go "no nodes at all").
func noNodes(field string) string {
	return field + `.localhostProfile: "` + profilePath + `" was not checked against any node: the cluster has no nodes yet; admitted, since a node added later may have it`
}

var nsCounter atomic.Int32

// namespace creates an enforce namespace with optional annotations.
func namespace(t *testing.T, annotations map[string]string) string {
	t.Helper()
	name := fmt.Sprintf("e2e-hybrid-%d", nsCounter.Add(1))
	require.NoError(t, k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{policy.ModeLabel: "enforce"}, Annotations: annotations,
	}}))
	return name
}

func unconfined() *corev1.SeccompProfile {
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
}

func localhost() *corev1.SeccompProfile {
	p := profilePath
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &p}
}

type podTweak func(*corev1.PodSpec)

func podLevel(p *corev1.SeccompProfile) podTweak {
	return func(s *corev1.PodSpec) { s.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: p} }
}

func containerLevel(p *corev1.SeccompProfile) podTweak {
	return func(s *corev1.PodSpec) { s.Containers[1].SecurityContext = &corev1.SecurityContext{SeccompProfile: p} }
}

func initLevel(p *corev1.SeccompProfile) podTweak {
	return func(s *corev1.PodSpec) {
		s.InitContainers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: p}
	}
}

func podSpec(tweaks ...podTweak) corev1.PodSpec {
	s := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
		Containers:     []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "sidecar", Image: "envoy"}},
	}
	for _, t := range tweaks {
		t(&s)
	}
	return s
}

func newPod(ns string, tweaks ...podTweak) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: podSpec(tweaks...)}
}

func newDeployment(ns string, tweaks ...podTweak) *appsv1.Deployment {
	labels := map[string]string{"app": "x"}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(tweaks...)},
	}}
}

// count reads the webhook's request counter.
func count(t *testing.T) float64 {
	t.Helper()
	n, err := requestsTotal(context.Background())
	require.NoError(t, err)
	return n
}

func TestOnlyTheValidatingWebhookIsRegistered(t *testing.T) {
	ctx := context.Background()
	err := k8s.Get(ctx, client.ObjectKey{Name: framework.WebhookConfigName}, &admissionregistrationv1.MutatingWebhookConfiguration{})
	assert.True(t, apierrors.IsNotFound(err), "MutatingWebhookConfiguration: %v", err)
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: framework.WebhookConfigName}, &v))
	require.Len(t, v.Webhooks, 2) // the validating webhook and the gated-pod webhook
	assert.NotEmpty(t, v.Webhooks[0].MatchConditions)
	assert.NotEmpty(t, v.Webhooks[1].MatchConditions)
}

// Pods and workloads without a Localhost profile are defaulted and checked by
// the native policies alone: the webhook sees none of these requests.
func TestNoLocalhostNoWebhookRoundTrip(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, nil)
	before := count(t)

	plain := newPod(ns)
	require.NoError(t, k8s.Create(ctx, plain, client.DryRunAll))
	require.NotNil(t, plain.Spec.SecurityContext)
	assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, plain.Spec.SecurityContext.SeccompProfile)

	d := newDeployment(ns)
	require.NoError(t, k8s.Create(ctx, d, client.DryRunAll))
	require.NotNil(t, d.Spec.Template.Spec.SecurityContext)
	assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, d.Spec.Template.Spec.SecurityContext.SeccompProfile)

	for name, tweak := range map[string]podTweak{"pod level": podLevel(unconfined()), "container": containerLevel(unconfined()), "init container": initLevel(unconfined())} {
		err := k8s.Create(ctx, newPod(ns, tweak), client.DryRunAll)
		require.Error(t, err, name)
		assert.True(t, apierrors.IsForbidden(err), "%s: %v", name, err)
		assert.Contains(t, err.Error(), "ValidatingAdmissionPolicy '"+prefix+"-enforce'", name)
		assert.Contains(t, err.Error(), "(UnconfinedForbidden)", name)
	}
	err := k8s.Create(ctx, newDeployment(ns, containerLevel(unconfined())), client.DryRunAll)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.template.spec.containers[1].securityContext.seccompProfile.type: \"Unconfined\" is forbidden")

	// The native policies match pods on CREATE, and the validating ones
	// the ephemeralcontainers subresource: an Unconfined ephemeral
	// container is denied there, and a pod UPDATE is never denied.
	p := newPod(ns)
	p.Name = "native-eph"
	require.NoError(t, k8s.Create(ctx, p))
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debug", Image: "busybox", SecurityContext: &corev1.SecurityContext{SeccompProfile: unconfined()},
	}}}
	err = k8s.SubResource("ephemeralcontainers").Update(ctx, p, client.DryRunAll)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ValidatingAdmissionPolicy '"+prefix+"-enforce'")
	assert.Contains(t, err.Error(), "spec.ephemeralContainers[0].securityContext.seccompProfile.type: \"Unconfined\" is forbidden")
	require.NoError(t, k8s.Get(ctx, client.ObjectKeyFromObject(p), p))
	p.Labels = map[string]string{"updated": "yes"}
	require.NoError(t, k8s.Update(ctx, p, client.DryRunAll), "a pod UPDATE of its labels")
	warnings.Take()

	assert.Equal(t, before, count(t), "the webhook received requests without a Localhost profile")
}

// Objects with a Localhost profile anywhere in the pod spec go to the
// webhook, which admits them (no nodes known) with its coverage warning.
func TestLocalhostGoesToWebhook(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, nil)
	cases := []struct {
		name  string
		obj   client.Object
		field string
	}{
		{"pod level", newPod(ns, podLevel(localhost())), "spec.securityContext.seccompProfile"},
		{"container", newPod(ns, containerLevel(localhost())), "spec.containers[1].securityContext.seccompProfile"},
		{"init container", newPod(ns, initLevel(localhost())), "spec.initContainers[0].securityContext.seccompProfile"},
		{"deployment template", newDeployment(ns, containerLevel(localhost())), "spec.template.spec.containers[1].securityContext.seccompProfile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := count(t)
			warnings.Take()
			require.NoError(t, k8s.Create(ctx, tc.obj, client.DryRunAll))
			assert.Contains(t, warnings.Take(), noNodes(tc.field))
			assert.Greater(t, count(t), before, "the webhook did not receive the request")
		})
	}

	t.Run("ephemeral container", func(t *testing.T) {
		p := newPod(ns)
		p.Name = "eph"
		require.NoError(t, k8s.Create(ctx, p))
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Image: "busybox", SecurityContext: &corev1.SecurityContext{SeccompProfile: localhost()},
		}}}
		before := count(t)
		warnings.Take()
		require.NoError(t, k8s.SubResource("ephemeralcontainers").Update(ctx, p, client.DryRunAll))
		assert.Contains(t, warnings.Take(), noNodes("spec.ephemeralContainers[0].securityContext.seccompProfile"))
		assert.Greater(t, count(t), before, "the webhook did not receive the request")
	})
}

// A namespace default of localhost/... is injected by the native
// MutatingAdmissionPolicy, and the validating webhook sees it in the object.
func TestNamespaceLocalhostDefaultGoesToWebhook(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, map[string]string{policy.DefaultProfileAnnotation: "localhost/" + profilePath})
	before := count(t)
	warnings.Take()
	p := newPod(ns)
	require.NoError(t, k8s.Create(ctx, p, client.DryRunAll))
	require.NotNil(t, p.Spec.SecurityContext)
	assert.Equal(t, localhost(), p.Spec.SecurityContext.SeccompProfile)
	assert.Contains(t, warnings.Take(), noNodes("spec.securityContext.seccompProfile"))
	assert.Greater(t, count(t), before, "the webhook did not receive the defaulted pod")
}

// With the webhook stopped the native rules still hold; only Localhost
// objects, which need the webhook, are refused (failurePolicy Fail). Runs
// last: it stops the webhook for good.
func TestWebhookDown(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, nil)
	require.NoError(t, wh.Stop())

	plain := newPod(ns)
	require.NoError(t, k8s.Create(ctx, plain, client.DryRunAll))
	require.NotNil(t, plain.Spec.SecurityContext)
	assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, plain.Spec.SecurityContext.SeccompProfile)

	err := k8s.Create(ctx, newPod(ns, podLevel(unconfined())), client.DryRunAll)
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.Contains(t, err.Error(), "ValidatingAdmissionPolicy '"+prefix+"-enforce'")
	assert.Contains(t, err.Error(), "(UnconfinedForbidden)")

	err = k8s.Create(ctx, newPod(ns, containerLevel(localhost())), client.DryRunAll)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `failed calling webhook "`+framework.ValidatingWebhookName+`"`)
	warnings.Take()
}
