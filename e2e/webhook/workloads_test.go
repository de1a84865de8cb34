package webhook_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

func template(tweaks ...podTweak) corev1.PodTemplateSpec {
	p := newPod("", "", tweaks...)
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: p.Spec}
}

func deployment(ns, name string, tweaks ...podTweak) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template(tweaks...),
		},
	}
}

func templateProfile(spec *corev1.PodSpec) *corev1.SeccompProfile {
	if spec.SecurityContext == nil {
		return nil
	}
	return spec.SecurityContext.SeccompProfile
}

func TestWorkloads(t *testing.T) {
	ctx := context.Background()
	rd := &corev1.SeccompProfile{Type: runtimeDefault}
	t.Run("a Deployment is defaulted in its template and denied for Unconfined", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		d := deployment(ns, "web")
		require.NoError(t, k8s.Create(ctx, d))
		assert.Equal(t, rd, templateProfile(&d.Spec.Template.Spec))
		err := k8s.Create(ctx, deployment(ns, "bad", containerLevel(0, unconfined)))
		require.Error(t, err)
		assert.Equal(t, fmt.Sprintf(`admission webhook "validate.seccomp-guard.io" denied the request: deployment "bad" is forbidden by seccomp-guard: spec.template.spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace %q (UnconfinedForbidden); remove it or use RuntimeDefault`, ns), err.Error())
	})
	t.Run("a CronJob is defaulted in its job template and denied for Unconfined", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		cj := func(name string, tweaks ...podTweak) *batchv1.CronJob {
			tmpl := template(append(tweaks, func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever })...)
			return &batchv1.CronJob{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec:       batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}},
			}
		}
		good := cj("nightly")
		require.NoError(t, k8s.Create(ctx, good))
		assert.Equal(t, rd, templateProfile(&good.Spec.JobTemplate.Spec.Template.Spec))
		err := k8s.Create(ctx, cj("bad", podLevel(unconfined)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `cronjob "bad" is forbidden by seccomp-guard: spec.jobTemplate.spec.template.spec.securityContext.seccompProfile.type: "Unconfined" is forbidden`)
	})
	t.Run("a StatefulSet is defaulted and denied for Unconfined", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		ss := func(name string, tweaks ...podTweak) *appsv1.StatefulSet {
			return &appsv1.StatefulSet{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec:       appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: template(tweaks...)},
			}
		}
		good := ss("db")
		require.NoError(t, k8s.Create(ctx, good))
		assert.Equal(t, rd, templateProfile(&good.Spec.Template.Spec))
		err := k8s.Create(ctx, ss("bad", initLevel(unconfined)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `statefulset "bad" is forbidden by seccomp-guard: spec.template.spec.initContainers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden`)
	})
	t.Run("a ReplicaSet owned by a Deployment is not mutated", func(t *testing.T) {
		ns := namespace(t, "enforce", nil)
		owner := deployment(ns, "owner")
		require.NoError(t, k8s.Create(ctx, owner))
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "owner-abc", Namespace: ns, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: owner.Name, UID: owner.UID, Controller: new(true),
			}}},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: template()},
		}
		require.NoError(t, k8s.Create(ctx, rs))
		assert.Nil(t, templateProfile(&rs.Spec.Template.Spec))
	})
	t.Run("Deployment UPDATE without a template change gets no patch", func(t *testing.T) {
		ns := namespace(t, "disabled", nil)
		d := deployment(ns, "old")
		require.NoError(t, k8s.Create(ctx, d)) // stored without a profile
		setMode(t, ns, "enforce")
		d.Labels = map[string]string{"team": "b"}
		require.NoError(t, k8s.Update(ctx, d))
		assert.Nil(t, templateProfile(&d.Spec.Template.Spec), "a label change must not start a rollout")
		d.Spec.Template.Labels["v"] = "2"
		require.NoError(t, k8s.Update(ctx, d))
		assert.Equal(t, rd, templateProfile(&d.Spec.Template.Spec), "a template change is defaulted")
	})
	t.Run("UPDATE ratchet: old violations warn, new ones deny", func(t *testing.T) {
		ns := namespace(t, "disabled", nil)
		d := deployment(ns, "legacy", podLevel(runtimeDefault), containerLevel(1, unconfined))
		d.Finalizers = []string{"example.com/hold"}
		require.NoError(t, k8s.Create(ctx, d))
		setMode(t, ns, "enforce")

		c, w := warningClient(t)
		d.Labels = map[string]string{"touched": "yes"}
		require.NoError(t, c.Update(ctx, d), "a label change on a non-compliant Deployment succeeds")
		assert.Equal(t, []string{fmt.Sprintf(`spec.template.spec.containers[1].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace %q (UnconfinedForbidden); remove it or use RuntimeDefault [already present before this update, so not denied]`, ns)}, w.Take())
		d.Finalizers = nil
		require.NoError(t, c.Update(ctx, d), "removing a finalizer succeeds")

		d.Spec.Template.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: unconfined}}
		err := c.Update(ctx, d)
		require.Error(t, err, "a new violation is denied")
		assert.Contains(t, err.Error(), `deployment "legacy" is forbidden by seccomp-guard: spec.template.spec.containers[0].securityContext.seccompProfile.type: "Unconfined"`)
	})
}

func setMode(t *testing.T, ns, mode string) {
	t.Helper()
	obj := &corev1.Namespace{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Name: ns}, obj))
	obj.Labels["seccomp-guard.io/mode"] = mode
	require.NoError(t, k8s.Update(context.Background(), obj))
	// The webhook reads namespaces from its cache: wait until it sees the change.
	require.Eventually(t, func() bool {
		err := k8s.Create(context.Background(), newPod(ns, "mode-probe", podLevel(unconfined)), client.DryRunAll)
		if mode == "enforce" {
			return err != nil
		}
		return err == nil
	}, 10*time.Second, 100*time.Millisecond)
}

func TestPolicyChanges(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "enforce", nil)
	other := namespace(t, "enforce", nil)
	require.NoError(t, k8s.Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "kata"}, Handler: "kata"}))

	pol := &v1alpha1.ClusterSeccompPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1alpha1.ClusterSeccompPolicySpec{Exemptions: v1alpha1.Exemptions{
			Namespaces:        []string{ns},
			Usernames:         []string{"ops-deployer"},
			RuntimeClassNames: []string{"kata"},
		}},
	}
	require.NoError(t, k8s.Create(ctx, pol))
	t.Cleanup(func() {
		_ = k8s.Delete(ctx, pol)
		require.Eventually(t, func() bool {
			return k8s.Create(ctx, newPod(ns, "after", podLevel(unconfined)), client.DryRunAll) != nil
		}, 15*time.Second, 100*time.Millisecond, "deleting the policy restores the defaults")
	})

	t.Run("exempting a namespace takes effect within seconds, without restart", func(t *testing.T) {
		require.Eventually(t, func() bool {
			return k8s.Create(ctx, newPod(ns, "exempt", podLevel(unconfined))) == nil
		}, 15*time.Second, 100*time.Millisecond)
		assert.Equal(t, &corev1.SeccompProfile{Type: unconfined}, podProfile(t, ns, "exempt"))
	})
	t.Run("the policy status names the served generation", func(t *testing.T) {
		require.Eventually(t, func() bool {
			got := &v1alpha1.ClusterSeccompPolicy{}
			if err := k8s.Get(ctx, client.ObjectKey{Name: "default"}, got); err != nil {
				return false
			}
			return got.Status.ObservedGeneration == got.Generation && len(got.Status.Conditions) == 1 &&
				got.Status.Conditions[0].Status == metav1.ConditionTrue
		}, 15*time.Second, 100*time.Millisecond)
	})
	t.Run("an exempt user passes untouched", func(t *testing.T) {
		pod := newPod(other, "by-ops", podLevel(unconfined))
		require.NoError(t, userClient(t, "ops-deployer").Create(ctx, pod))
		plain := newPod(other, "by-ops-plain")
		require.NoError(t, userClient(t, "ops-deployer").Create(ctx, plain))
		assert.Nil(t, podProfile(t, other, "by-ops-plain"))
	})
	t.Run("an exempt runtime class passes untouched", func(t *testing.T) {
		pod := newPod(other, "kata", podLevel(unconfined), func(p *corev1.Pod) { p.Spec.RuntimeClassName = new("kata") })
		require.NoError(t, k8s.Create(ctx, pod))
		err := k8s.Create(ctx, newPod(other, "not-kata", podLevel(unconfined)))
		require.Error(t, err)
		assert.True(t, apierrors.IsForbidden(err))
	})
}
