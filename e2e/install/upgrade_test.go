package install_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// TestUpgrade upgrades a running release to a changed values file and a
// new image tag while pods are being created, from a cluster whose policy
// CRD lacks a field the new version has (as after an install of an older
// version): no pod creation fails, and the CRD change arrives.
func TestUpgrade(t *testing.T) {
	needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const releaseNS = "sg-upgrade"
	releaseNamespace(ctx, t, releaseNS)
	storyNS := "story-upgrade"
	require.NoError(t, node.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: storyNS, Labels: map[string]string{policy.ModeLabel: "enforce"},
	}}))
	values := baseValues("self-managed", false)
	helm(t, "install", release, chartDir, "--namespace", releaseNS, "--values", valuesFile(t, values), "--wait", "--timeout", "4m")
	waitInstalled(ctx, t, releaseNS)

	// The older version's CRD: without spec.privileged.
	const crdName = "clusterseccomppolicies.seccomp-guard.io"
	require.NoError(t, apiextensionsv1.AddToScheme(node.Client.Scheme()))
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, node.Client.Get(ctx, client.ObjectKey{Name: crdName}, crd))
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	require.Contains(t, spec.Properties, "privileged")
	delete(spec.Properties, "privileged")
	crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
	require.NoError(t, node.Client.Update(ctx, crd))

	loop := startCreating(ctx, storyNS)
	values["image"] = map[string]any{"tag": upgradeTag}
	values["webhook"] = map[string]any{"logLevel": "debug"}
	values["policy"] = map[string]any{"spec": map[string]any{"privileged": "Warn"}}
	helm(t, "upgrade", release, chartDir, "--namespace", releaseNS, "--values", valuesFile(t, values), "--wait", "--timeout", "4m")
	waitInstalled(ctx, t, releaseNS)
	time.Sleep(2 * time.Second) // and after
	loop.finish(t, "helm upgrade")

	var dep appsv1.Deployment
	require.NoError(t, node.Client.Get(ctx, client.ObjectKey{Namespace: releaseNS, Name: release + "-webhook"}, &dep))
	img := dep.Spec.Template.Spec.Containers[0].Image
	assert.True(t, strings.HasSuffix(img, ":"+upgradeTag), "the webhook runs the new tag, got %s", img)
	assert.Contains(t, dep.Spec.Template.Spec.Containers[0].Args, "--zap-log-level=debug")

	require.NoError(t, node.Client.Get(ctx, client.ObjectKey{Name: crdName}, crd))
	assert.Contains(t, crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties, "privileged",
		"the pre-upgrade hook applied the new CRD")
	// The new field is kept, not pruned: the policy the chart wrote says Warn.
	var pol v1alpha1.ClusterSeccompPolicy
	require.NoError(t, node.Client.Get(ctx, client.ObjectKey{Name: "default"}, &pol))
	assert.Equal(t, v1alpha1.PrivilegedWarn, pol.Spec.Privileged)

	uninstall(ctx, t, releaseNS, storyNS)
}
