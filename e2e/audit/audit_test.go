package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const namespace = "e2e-audit"

// TestAuditObjectsCreatedWhileDisabled: objects created while their
// namespace was disabled (the webhook registered, but not called for it)
// show up in audit with the verdicts of the next step; at warn, an
// Unconfined Deployment would be denied at enforce with the message the
// webhook then really gives its pods.
func TestAuditObjectsCreatedWhileDisabled(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{policy.ModeLabel: "disabled"}}}))

	container := func(name string, sc *corev1.SecurityContext) []corev1.Container {
		return []corev1.Container{{Name: name, Image: "registry.example/" + name, SecurityContext: sc}}
	}
	unconfined := &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
	labels := map[string]string{"app": "web"}
	web := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: container("web", unconfined)}},
		},
	}
	debug := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "debug"},
		Spec: corev1.PodSpec{Containers: container("shell", &corev1.SecurityContext{Privileged: ptr.To(true)})}}
	nightly := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: container("backup", nil)}}}}}}
	for _, obj := range []client.Object{web, debug, nightly} {
		require.NoError(t, k8s.Create(ctx, obj), "creating %T %s while the namespace is disabled", obj, obj.GetName())
	}

	webMsg := `spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "e2e-audit" (UnconfinedForbidden); remove it or use RuntimeDefault`
	debugMsg := `spec.containers[0].securityContext.privileged: true runs the container with no seccomp filter, whatever its seccompProfile says (the container runtime skips seccomp for privileged containers) (PrivilegedForbidden); drop privileged: true and add only the capabilities the container needs, or, if namespace "e2e-audit" needs privileged pods, exempt it: add it to spec.exemptions.namespaces of ClusterSeccompPolicy "default", or label it seccomp-guard.io/mode=disabled`

	t.Run("disabled: the next step is audit, which denies nothing", func(t *testing.T) {
		code, stdout, stderr := runAudit(t, "-n", namespace, "-o", "json")
		require.Equal(t, 0, code, "stderr: %s", stderr)
		var r cli.AuditReport
		require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
		require.Len(t, r.Namespaces, 1)
		ns := r.Namespaces[0]
		assert.Equal(t, "disabled", string(ns.Mode))
		assert.Equal(t, "audit", string(ns.NextMode))
		assert.Equal(t, "ready for audit, which denies nothing; 2 objects would be denied at enforce: Pod debug (PrivilegedForbidden), Deployment web (UnconfinedForbidden)", ns.Recommendation)
		got := map[string]string{}
		for _, o := range ns.Objects {
			got[o.Kind+"/"+o.Name] = fmt.Sprintf("%s now=%s next=%s defaulted=%s message=%s", o.Status, o.Now, o.Next, o.Defaulted, o.Message)
		}
		assert.Equal(t, map[string]string{
			"Pod/debug":       `deny now=skipped next=would-deny defaulted=RuntimeDefault message=pod "debug" is forbidden by seccomp-guard: ` + debugMsg,
			"Deployment/web":  `deny now=skipped next=would-deny defaulted=RuntimeDefault message=pod "(generated name)" is forbidden by seccomp-guard: ` + webMsg,
			"CronJob/nightly": `default now=skipped next=allowed defaulted=RuntimeDefault message=`,
		}, got)
		assert.Equal(t, cli.AuditSummary{Namespaces: 1, Objects: 3, Violating: 2}, r.Summary)
	})

	setMode(t, "warn")
	t.Run("warn: the next step is enforce, which would deny", func(t *testing.T) {
		code, stdout, stderr := runAudit(t, "-n", namespace)
		assert.Equal(t, 1, code)
		assert.Equal(t, "Error: 2 top-level objects would be denied at enforce, the next step of their namespace\n", stderr)
		assert.Contains(t, stdout, "namespace e2e-audit: mode warn, next enforce\n  would be denied at enforce:\n"+
			"    Pod debug [PrivilegedForbidden]\n      pod \"debug\" is forbidden by seccomp-guard: "+debugMsg+"\n"+
			"    Deployment web [UnconfinedForbidden]\n      pod \"(generated name)\" is forbidden by seccomp-guard: "+webMsg+"\n"+
			"  would be defaulted:\n    CronJob nightly\n      to RuntimeDefault\n"+
			"  recommendation: 2 objects would be denied at enforce: Pod debug (PrivilegedForbidden), Deployment web (UnconfinedForbidden)\n")
	})

	t.Run("selector", func(t *testing.T) {
		code, stdout, stderr := runAudit(t, "-n", namespace, "-l", "app=web", "-o", "json")
		assert.Equal(t, 1, code, stderr)
		var r cli.AuditReport
		require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
		require.Len(t, r.Namespaces, 1)
		require.Len(t, r.Namespaces[0].Objects, 1)
		assert.Equal(t, "web", r.Namespaces[0].Objects[0].Name)
	})

	// At enforce, the webhook denies the Deployment's next pod with the
	// message audit showed (the API server names the pod; audit cannot).
	setMode(t, "enforce")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "web-probe", Labels: labels}, Spec: web.Spec.Template.Spec}
	want := `admission webhook "validate.seccomp-guard.io" denied the request: pod "web-probe" is forbidden by seccomp-guard: ` + webMsg
	err := framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the webhook to deny the Deployment's pod at enforce", func(ctx context.Context) error {
		err := k8s.Create(ctx, pod.DeepCopy(), client.DryRunAll)
		if err == nil {
			return errors.New("the pod was admitted; want it denied")
		}
		if !apierrors.IsForbidden(err) {
			return fmt.Errorf("want the pod denied, got %w", err)
		}
		if !strings.Contains(err.Error(), "pod \"web-probe\" is forbidden by seccomp-guard: ") {
			return fmt.Errorf("not yet denied by seccomp-guard at enforce: %w", err)
		}
		return nil
	})
	require.NoError(t, err)
	err = k8s.Create(ctx, pod.DeepCopy(), client.DryRunAll)
	require.Error(t, err)
	assert.Equal(t, want, err.Error())
}

// setMode labels the test namespace.
func setMode(t *testing.T, mode string) {
	t.Helper()
	ns := &corev1.Namespace{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Name: namespace}, ns))
	ns.Labels[policy.ModeLabel] = mode
	require.NoError(t, k8s.Update(context.Background(), ns))
}
