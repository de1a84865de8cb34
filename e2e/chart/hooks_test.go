package chart_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
)

// hookObjects returns "Kind name: helm.sh/hook" for every rendered object
// with a helm.sh/hook annotation.
func hookObjects(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if h := o.GetAnnotations()["helm.sh/hook"]; h != "" {
			out = append(out, o.GetKind()+" "+o.GetName()+": "+h)
		}
	}
	return out
}

func TestHooks(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   []string
	}{
		{name: "defaults: the CRD upgrade and the admission removal", want: []string{
			"ServiceAccount sg-seccomp-guard-hook: pre-delete,pre-upgrade",
			"ClusterRole sg-seccomp-guard-hook: pre-delete,pre-upgrade",
			"ClusterRoleBinding sg-seccomp-guard-hook: pre-delete,pre-upgrade",
			"Job sg-seccomp-guard-hook-pre-delete: pre-delete",
			"Job sg-seccomp-guard-hook-pre-upgrade: pre-upgrade",
		}},
		{name: "crds.upgrade false: only the removal", values: values("crds.upgrade", false), want: []string{
			"ServiceAccount sg-seccomp-guard-hook: pre-delete",
			"ClusterRole sg-seccomp-guard-hook: pre-delete",
			"ClusterRoleBinding sg-seccomp-guard-hook: pre-delete",
			"Job sg-seccomp-guard-hook-pre-delete: pre-delete",
		}},
		{name: "hooks.enabled false: none", values: values("hooks.enabled", false)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.values)
			assert.Equal(t, tc.want, hookObjects(objs))
			if job := find(objs, "Job", "sg-seccomp-guard-hook-pre-delete"); job != nil {
				args, _, _ := unstructuredSlice(job.Object, "spec", "template", "spec", "containers")
				c := args[0].(map[string]any)
				assert.Equal(t, []any{"chart-hook", "remove-admission", "--release", "sg"}, c["args"])
				assert.Equal(t, "ghcr.io/seccomp-guard/seccomp-guard:0.1.0", c["image"])
			}
		})
	}
}

// TestChartHookCommands runs the hooks' commands, as the hook Jobs do,
// against a real kube-apiserver.
func TestChartHookCommands(t *testing.T) {
	if missing := framework.MissingAssets(); len(missing) > 0 {
		skipOrFail(t, "control plane not built (missing "+strings.Join(missing, ", ")+"): run `make controlplane`")
	}
	helm(t)
	cp, err := framework.StartControlPlane()
	require.NoError(t, err)
	t.Cleanup(cp.Stop)
	bin, err := framework.BuildBinary(t.TempDir())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}))
	hook := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, bin, append(append([]string{"chart-hook"}, args...), "--kubeconfig", cp.Kubeconfig)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}

	t.Run("remove-admission deletes the release's admission objects and nothing else", func(t *testing.T) {
		var mine []*unstructured.Unstructured
		for _, obj := range render(t, values("hybrid.enabled", true)) {
			if obj.GroupVersionKind().Group != "admissionregistration.k8s.io" {
				continue
			}
			require.NoError(t, cp.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner("chart-test"), client.ForceOwnership), "%s %s", obj.GetKind(), obj.GetName())
			mine = append(mine, obj)
		}
		require.GreaterOrEqual(t, len(mine), 8, "hybrid renders webhook configurations and native policies")
		// Another release's configuration stays.
		other := mine[0].DeepCopy()
		other.SetName("other-seccomp-guard")
		other.SetManagedFields(nil)
		other.SetResourceVersion("")
		other.SetUID("")
		labels := other.GetLabels()
		labels["app.kubernetes.io/instance"] = "other"
		other.SetLabels(labels)
		require.NoError(t, cp.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(other), client.FieldOwner("chart-test")))

		out := hook(t, "remove-admission", "--release", "sg")
		for _, obj := range mine {
			assert.Contains(t, out, obj.GetKind()+" "+obj.GetName()+" deleted\n")
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(obj.GroupVersionKind())
			err := cp.Client.Get(ctx, client.ObjectKeyFromObject(obj), got)
			assert.True(t, client.IgnoreNotFound(err) == nil && err != nil, "%s %s is left behind", obj.GetKind(), obj.GetName())
		}
		assert.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(other), other.DeepCopy()), "another release's object must stay")
		assert.Equal(t, "", hook(t, "remove-admission", "--release", "sg"), "a second run finds nothing to delete")
	})

	t.Run("crds brings a field an older CRD lacks", func(t *testing.T) {
		const name = "clusterseccomppolicies.seccomp-guard.io"
		crd := &apiextensionsv1.CustomResourceDefinition{}
		require.NoError(t, apiextensionsv1.AddToScheme(cp.Client.Scheme()))
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Name: name}, crd))
		// An older version of the CRD, without spec.privileged.
		spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
		require.Contains(t, spec.Properties, "privileged")
		delete(spec.Properties, "privileged")
		crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
		require.NoError(t, cp.Client.Update(ctx, crd))

		out := hook(t, "crds")
		assert.Equal(t, "customresourcedefinition clusterseccomppolicies.seccomp-guard.io applied and established\n"+
			"customresourcedefinition nodeseccompinventories.seccomp-guard.io applied and established\n", out)
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Name: name}, crd))
		assert.Contains(t, crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties, "privileged", "the upgrade hook restores the field")
		managers := []string{}
		for _, m := range crd.ManagedFields {
			managers = append(managers, m.Manager)
		}
		assert.Contains(t, managers, cli.ChartHookFieldManager)
	})
}
