package webhook_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

const (
	unconfined     = corev1.SeccompProfileTypeUnconfined
	runtimeDefault = corev1.SeccompProfileTypeRuntimeDefault
)

func podProfile(t *testing.T, ns, name string) *corev1.SeccompProfile {
	t.Helper()
	pod := &corev1.Pod{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pod))
	if pod.Spec.SecurityContext == nil {
		return nil
	}
	return pod.Spec.SecurityContext.SeccompProfile
}

func TestDefaulting(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"enforce", "warn"} {
		t.Run(mode+": a pod without a profile is stored with RuntimeDefault", func(t *testing.T) {
			ns := namespace(t, mode, nil)
			require.NoError(t, k8s.Create(ctx, newPod(ns, "plain")))
			assert.Equal(t, &corev1.SeccompProfile{Type: runtimeDefault}, podProfile(t, ns, "plain"))
			assert.Equal(t, "RuntimeDefault", auditAnnotations(t, "pods", ns, "plain")[framework.MutatingWebhookName+"/defaulted"])
		})
	}
	t.Run("audit: the pod is stored unchanged and the audit log says what would happen", func(t *testing.T) {
		ns := namespace(t, "audit", nil)
		require.NoError(t, k8s.Create(ctx, newPod(ns, "plain")))
		assert.Nil(t, podProfile(t, ns, "plain"))
		a := auditAnnotations(t, "pods", ns, "plain")
		assert.Equal(t, "RuntimeDefault", a[framework.ValidatingWebhookName+"/would-default"])
		assert.Equal(t, "audit", a[framework.ValidatingWebhookName+"/mode"])
	})
	t.Run("an explicit choice is untouched", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		pod := newPod(ns, "explicit", containerLevel(0, runtimeDefault))
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: new(true), SeccompProfile: &corev1.SeccompProfile{Type: runtimeDefault}}
		require.NoError(t, k8s.Create(ctx, pod))
		got := &corev1.Pod{}
		require.NoError(t, k8s.Get(ctx, client.ObjectKeyFromObject(pod), got))
		assert.Equal(t, pod.Spec.SecurityContext, got.Spec.SecurityContext)
		assert.Equal(t, pod.Spec.Containers[0].SecurityContext, got.Spec.Containers[0].SecurityContext)
		assert.NotContains(t, auditAnnotations(t, "pods", ns, "explicit"), framework.MutatingWebhookName+"/defaulted")
	})
	t.Run("other securityContext fields survive the patch", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		pod := newPod(ns, "sc")
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: new(true), RunAsUser: new(int64(1000))}
		require.NoError(t, k8s.Create(ctx, pod))
		got := &corev1.Pod{}
		require.NoError(t, k8s.Get(ctx, client.ObjectKeyFromObject(pod), got))
		assert.Equal(t, &corev1.PodSecurityContext{RunAsNonRoot: new(true), RunAsUser: new(int64(1000)), SeccompProfile: &corev1.SeccompProfile{Type: runtimeDefault}}, got.Spec.SecurityContext)
	})
	t.Run("the namespace annotation changes the injected default", func(t *testing.T) {
		ns := namespace(t, "enforce", map[string]string{"seccomp-guard.io/default-profile": "localhost/profiles/shop.json"})
		require.NoError(t, k8s.Create(ctx, newPod(ns, "annotated")))
		lp := "profiles/shop.json"
		assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}, podProfile(t, ns, "annotated"))
	})
	t.Run("a bad namespace annotation is refused with our message, not an API error", func(t *testing.T) {
		ns := namespace(t, "enforce", map[string]string{"seccomp-guard.io/default-profile": "localhost//etc/x.json"})
		err := k8s.Create(ctx, newPod(ns, "badannotation"))
		require.Error(t, err)
		assert.True(t, apierrors.IsForbidden(err), err.Error())
		assert.Contains(t, err.Error(), fmt.Sprintf(`admission webhook "validate.seccomp-guard.io" denied the request: pod "badannotation" is forbidden by seccomp-guard: spec.securityContext.seccompProfile: not set, and the default of namespace %q cannot be injected: annotation seccomp-guard.io/default-profile="localhost//etc/x.json" names a path that is absolute (InvalidDefaultProfile)`, ns))
	})
	t.Run("disabled: nothing happens", func(t *testing.T) {
		ns := namespace(t, "disabled", nil)
		require.NoError(t, k8s.Create(ctx, newPod(ns, "plain")))
		require.NoError(t, k8s.Create(ctx, newPod(ns, "unconfined", podLevel(unconfined))))
		assert.Nil(t, podProfile(t, ns, "plain"))
	})
}

func TestUnconfined(t *testing.T) {
	ctx := context.Background()
	places := []struct {
		name  string
		tweak podTweak
		field string
	}{
		{"pod", podLevel(unconfined), "spec.securityContext.seccompProfile.type"},
		{"container", containerLevel(1, unconfined), "spec.containers[1].securityContext.seccompProfile.type"},
		{"initcontainer", initLevel(unconfined), "spec.initContainers[0].securityContext.seccompProfile.type"},
	}
	for _, pl := range places {
		t.Run("enforce denies at "+pl.name+" level", func(t *testing.T) {
			ns := namespace(t, "enforce", nil)
			err := k8s.Create(ctx, newPod(ns, "bad-"+pl.name, pl.tweak))
			require.Error(t, err)
			assert.True(t, apierrors.IsForbidden(err))
			assert.Equal(t, fmt.Sprintf(`admission webhook "validate.seccomp-guard.io" denied the request: pod "bad-%s" is forbidden by seccomp-guard: %s: "Unconfined" is forbidden in namespace %q (UnconfinedForbidden); remove it or use RuntimeDefault`, pl.name, pl.field, ns), err.Error())
		})
		t.Run("warn admits at "+pl.name+" level with a warning", func(t *testing.T) {
			ns := namespace(t, "warn", nil)
			c, w := warningClient(t)
			require.NoError(t, c.Create(ctx, newPod(ns, "bad-"+pl.name, pl.tweak)))
			assert.Equal(t, []string{fmt.Sprintf(`%s: "Unconfined" is forbidden in namespace %q (UnconfinedForbidden); remove it or use RuntimeDefault`, pl.field, ns)}, w.Take())
		})
		t.Run("audit admits at "+pl.name+" level and records it", func(t *testing.T) {
			ns := namespace(t, "audit", nil)
			c, w := warningClient(t)
			require.NoError(t, c.Create(ctx, newPod(ns, "bad-"+pl.name, pl.tweak)))
			assert.Empty(t, w.Take())
			a := auditAnnotations(t, "pods", ns, "bad-"+pl.name)
			assert.Equal(t, "would-deny", a[framework.ValidatingWebhookName+"/decision"])
			assert.Equal(t, fmt.Sprintf(`%s: "Unconfined" is forbidden in namespace %q (UnconfinedForbidden); remove it or use RuntimeDefault`, pl.field, ns), a[framework.ValidatingWebhookName+"/violations"])
		})
	}
	t.Run("every violation is listed", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		err := k8s.Create(ctx, newPod(ns, "worst", podLevel(unconfined), containerLevel(0, unconfined)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `pod "worst" is forbidden by seccomp-guard (2 violations): spec.securityContext.seccompProfile.type: "Unconfined"`)
	})
}

func TestEphemeralContainers(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "enforce", nil)
	pod := newPod(ns, "target")
	require.NoError(t, k8s.Create(ctx, pod))

	debug := func(name string, sp *corev1.SeccompProfile) error {
		got := &corev1.Pod{}
		require.NoError(t, k8s.Get(ctx, client.ObjectKeyFromObject(pod), got))
		ec := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: name, Image: "busybox", TerminationMessagePolicy: corev1.TerminationMessageReadFile, ImagePullPolicy: corev1.PullIfNotPresent,
		}}
		if sp != nil {
			ec.SecurityContext = &corev1.SecurityContext{SeccompProfile: sp}
		}
		got.Spec.EphemeralContainers = append(got.Spec.EphemeralContainers, ec)
		return k8s.SubResource("ephemeralcontainers").Update(ctx, got)
	}
	err := debug("debugger", &corev1.SeccompProfile{Type: unconfined})
	require.Error(t, err)
	assert.Equal(t, `admission webhook "validate.seccomp-guard.io" denied the request: pod "target" (ephemeralcontainers) is forbidden by seccomp-guard: spec.ephemeralContainers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "`+ns+`" (UnconfinedForbidden); remove it or use RuntimeDefault`, err.Error())
	require.NoError(t, debug("debugger", nil), "kubectl debug without a profile is admitted")
}

func TestPodUpdatesAreNeverDenied(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "disabled", nil)
	require.NoError(t, k8s.Create(ctx, newPod(ns, "legacy", podLevel(unconfined))))
	// The namespace is enforced afterwards: a label change on the old pod must still work.
	nsObj := &corev1.Namespace{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj))
	nsObj.Labels["seccomp-guard.io/mode"] = "enforce"
	require.NoError(t, k8s.Update(ctx, nsObj))
	pod := &corev1.Pod{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "legacy"}, pod))
	pod.Labels = map[string]string{"touched": "yes"}
	pod.Finalizers = []string{"example.com/hold"}
	require.NoError(t, k8s.Update(ctx, pod))
	pod.Finalizers = nil
	require.NoError(t, k8s.Update(ctx, pod))
}

func TestExemptionsAndWindows(t *testing.T) {
	ctx := context.Background()
	t.Run("Windows pods pass untouched", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		pod := newPod(ns, "win", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows}; p.Spec.InitContainers = nil })
		require.NoError(t, k8s.Create(ctx, pod))
		assert.Nil(t, podProfile(t, ns, "win"))
	})
	t.Run("dry-run gives the same verdict and stores nothing", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		err := k8s.Create(ctx, newPod(ns, "dry", podLevel(unconfined)), client.DryRunAll)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "UnconfinedForbidden")
		pod := newPod(ns, "dry-ok")
		require.NoError(t, k8s.Create(ctx, pod, client.DryRunAll))
		assert.Equal(t, &corev1.SeccompProfile{Type: runtimeDefault}, pod.Spec.SecurityContext.SeccompProfile, "the dry-run response shows the defaulted pod")
		assert.True(t, apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dry-ok"}, &corev1.Pod{})))
	})
}
