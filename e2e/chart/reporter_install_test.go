package chart_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	wgpolicyk8sv1alpha2 "github.com/seccomp-guard/seccomp-guard/api/wgpolicyk8s/v1alpha2"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// TestReportCRDsInstall installs the chart with the pinned helm into a real
// kube-apiserver, where the template's lookup sees the cluster: a report CRD
// that another tool installed is left alone, an absent one is installed,
// stays the release's on upgrade, and is kept by helm uninstall.
func TestReportCRDsInstall(t *testing.T) {
	if missing := framework.MissingAssets(); len(missing) > 0 {
		skipOrFail(t, "control plane not built (missing "+strings.Join(missing, ", ")+"): run `make controlplane`")
	}
	helmBin, chartDir := helm(t)
	cp, err := framework.StartControlPlane()
	require.NoError(t, err)
	t.Cleanup(cp.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, apiextensionsv1.AddToScheme(cp.Client.Scheme()))
	require.NoError(t, cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}))

	// No cert-manager (its CRDs are absent) and no hook Jobs (nothing runs them).
	vals, err := yaml.Marshal(values(
		"certificates.mode", "self-managed",
		"hooks.enabled", false,
		"reporter.enabled", true,
		"reporter.format", "wgpolicyk8s",
		"reporter.installCRDs", true,
	))
	require.NoError(t, err)
	valuesFile := filepath.Join(t.TempDir(), "values.yaml")
	require.NoError(t, os.WriteFile(valuesFile, vals, 0o600))
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, helmBin, append(args, "--namespace", namespace, "--kubeconfig", cp.Kubeconfig)...).CombinedOutput()
		require.NoError(t, err, "helm %s: %s", strings.Join(args, " "), out)
		return string(out)
	}
	manifestCRDs := func(t *testing.T) []string {
		t.Helper()
		var names []string
		for doc := range strings.SplitSeq(run(t, "get", "manifest", release), "\n---\n") {
			var obj struct {
				Kind     string
				Metadata struct{ Name string }
			}
			require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
			if obj.Kind == "CustomResourceDefinition" {
				names = append(names, obj.Metadata.Name)
			}
		}
		return names
	}
	getCRD := func(t *testing.T, name string) *apiextensionsv1.CustomResourceDefinition {
		t.Helper()
		crd := &apiextensionsv1.CustomResourceDefinition{}
		require.NoError(t, cp.Client.Get(ctx, client.ObjectKey{Name: name}, crd), "CRD %s", name)
		return crd
	}

	// Another tool's PolicyReport CRD, as a Helm release of Kyverno leaves it.
	const foreignName, ownName = "policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io"
	foreign := reportCRDFile(t, "wgpolicyk8s.io_policyreports.yaml")
	foreign.Annotations = map[string]string{"meta.helm.sh/release-name": "kyverno", "meta.helm.sh/release-namespace": "kyverno"}
	foreign.Labels = map[string]string{"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "kyverno"}
	require.NoError(t, cp.Client.Create(ctx, foreign))

	// The API server writes the CRD's status; its spec (generation),
	// annotations and labels are the other tool's, and only it wrote them.
	assertForeignUntouched := func(t *testing.T) {
		t.Helper()
		got := getCRD(t, foreignName)
		assert.Equal(t, int64(1), got.Generation, "the other tool's CRD spec was changed")
		assert.Equal(t, foreign.Annotations, got.Annotations)
		assert.Equal(t, foreign.Labels, got.Labels)
		for _, m := range got.ManagedFields {
			assert.NotEqual(t, "helm", m.Manager, "helm wrote the other tool's CRD")
		}
	}
	assertOwned := func(t *testing.T) {
		t.Helper()
		got := getCRD(t, ownName)
		assert.Equal(t, release, got.Annotations["meta.helm.sh/release-name"])
		assert.Equal(t, namespace, got.Annotations["meta.helm.sh/release-namespace"])
		assert.Equal(t, "keep", got.Annotations["helm.sh/resource-policy"])
	}

	t.Run("install: the absent CRD is installed, the other tool's is left alone", func(t *testing.T) {
		run(t, "install", release, chartDir, "--values", valuesFile)
		assert.Equal(t, []string{ownName}, manifestCRDs(t))
		assertOwned(t)
		assertForeignUntouched(t)
	})

	t.Run("api/wgpolicyk8s round-trips through the generated CRDs", func(t *testing.T) {
		result := wgpolicyk8sv1alpha2.PolicyReportResult{
			Source: "seccomp-guard", Policy: "default", Rule: "UnconfinedForbidden", Category: "seccomp",
			Severity: wgpolicyk8sv1alpha2.SeverityHigh, Timestamp: metav1.Timestamp{Seconds: 1700000000},
			Result: wgpolicyk8sv1alpha2.StatusFail, Scored: true,
			Subjects:        []corev1.ObjectReference{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: namespace, Name: "web", UID: "u1"}},
			SubjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Description:     "container web: seccompProfile Unconfined is not allowed",
			Properties:      map[string]string{"mode": "enforce"},
		}
		summary := wgpolicyk8sv1alpha2.PolicyReportSummary{Pass: 3, Fail: 1, Warn: 2, Error: 0, Skip: 4}
		scope := &corev1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: namespace}
		objs := []client.Object{
			&wgpolicyk8sv1alpha2.PolicyReport{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "seccomp-guard"},
				Scope:      scope, Summary: summary, Results: []wgpolicyk8sv1alpha2.PolicyReportResult{result},
			},
			&wgpolicyk8sv1alpha2.ClusterPolicyReport{
				ObjectMeta:    metav1.ObjectMeta{Name: "seccomp-guard"},
				ScopeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
				Summary:       summary, Results: []wgpolicyk8sv1alpha2.PolicyReportResult{result},
			},
		}
		// Helm does not wait for a CRD in templates/ to be established.
		require.NoError(t, framework.Poll(ctx, 100*time.Millisecond, 30*time.Second, ownName+" established", func(ctx context.Context) error {
			for _, c := range getCRD(t, ownName).Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return errors.New("not established")
		}))
		for _, obj := range objs {
			want := obj.DeepCopyObject().(client.Object)
			require.NoError(t, cp.Client.Create(ctx, obj, client.FieldValidation("Strict")), "%T", obj)
			got := want.DeepCopyObject().(client.Object)
			require.NoError(t, cp.Client.Get(ctx, client.ObjectKeyFromObject(obj), got))
			switch got := got.(type) {
			case *wgpolicyk8sv1alpha2.PolicyReport:
				w := want.(*wgpolicyk8sv1alpha2.PolicyReport)
				assert.Equal(t, w.Results, got.Results)
				assert.Equal(t, w.Summary, got.Summary)
				assert.Equal(t, w.Scope, got.Scope)
			case *wgpolicyk8sv1alpha2.ClusterPolicyReport:
				w := want.(*wgpolicyk8sv1alpha2.ClusterPolicyReport)
				assert.Equal(t, w.Results, got.Results)
				assert.Equal(t, w.Summary, got.Summary)
				assert.Equal(t, w.ScopeSelector, got.ScopeSelector)
			}
			require.NoError(t, cp.Client.Delete(ctx, obj))
		}

		bad := &wgpolicyk8sv1alpha2.PolicyReport{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "bad"},
			Results:    []wgpolicyk8sv1alpha2.PolicyReportResult{{Policy: "default", Result: "denied"}},
		}
		err := cp.Client.Create(ctx, bad)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `results[0].result: Unsupported value: "denied": supported values: "pass", "fail", "warn", "error", "skip"`)
	})

	t.Run("upgrade: the release keeps managing its own CRD", func(t *testing.T) {
		run(t, "upgrade", release, chartDir, "--values", valuesFile)
		assert.Equal(t, []string{ownName}, manifestCRDs(t))
		assertOwned(t)
		assertForeignUntouched(t)
	})

	t.Run("uninstall keeps both CRDs", func(t *testing.T) {
		out := run(t, "uninstall", release)
		assert.Contains(t, out, "These resources were kept due to the resource policy:\n[CustomResourceDefinition] "+ownName)
		getCRD(t, ownName)
		assertForeignUntouched(t)
		err := cp.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: reporterName}, &corev1.ServiceAccount{})
		assert.True(t, apierrors.IsNotFound(err), "the reporter's ServiceAccount is deleted: %v", err)
	})

	t.Run("a new install takes the kept CRD back", func(t *testing.T) {
		run(t, "install", release, chartDir, "--values", valuesFile)
		assert.Equal(t, []string{ownName}, manifestCRDs(t))
		assertOwned(t)
		assertForeignUntouched(t)
		run(t, "uninstall", release)
		getCRD(t, ownName)
	})
}
