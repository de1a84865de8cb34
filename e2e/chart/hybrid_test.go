package chart_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/nativechart"
	"github.com/seccomp-guard/seccomp-guard/native"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

var nativeKinds = []string{"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

// TestNativeTemplatesGenerated fails when the committed native-policy
// templates differ from what package native builds.
func TestNativeTemplatesGenerated(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	files, err := nativechart.Files()
	require.NoError(t, err)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, "charts", "seccomp-guard", name))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%s is stale: run `go run ./internal/nativechart/gen`", name)
	}
}

func TestHybridDisabledRendersNoNativePolicies(t *testing.T) {
	for _, o := range render(t, nil) {
		if o.GetName() == "sg-agent-own-node" {
			continue
		}
		assert.NotContains(t, nativeKinds, o.GetKind(), "%s %s", o.GetKind(), o.GetName())
	}
}

func TestHybrid(t *testing.T) {
	for _, mode := range []string{"opt-in", "cluster-wide"} {
		t.Run(mode, func(t *testing.T) {
			objs := render(t, values("hybrid.enabled", true, "mode", mode, "excludedNamespaces", []string{"monitoring"}))
			assert.Nil(t, find(objs, "MutatingWebhookConfiguration", fullname), "hybrid renders no mutating webhook")

			cfg := get[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs, "ValidatingWebhookConfiguration", fullname)
			require.Len(t, cfg.Webhooks, 2)
			assert.Equal(t, append(webhook.GatedPodMatchConditions(), native.WebhookMatchConditions()...), cfg.Webhooks[1].MatchConditions,
				"the gated-pod webhook also takes only Localhost pods in hybrid mode")
			w := cfg.Webhooks[0]
			assert.Equal(t, framework.ValidatingWebhookName, w.Name)
			assert.Equal(t, native.WebhookMatchConditions(), w.MatchConditions)
			assert.Equal(t, wantRules(), w.Rules)
			assert.Equal(t, new(admissionregistrationv1.Fail), w.FailurePolicy)

			want := native.Build(fullname)
			for _, p := range want.MutatingPolicies {
				got := get[admissionregistrationv1.MutatingAdmissionPolicy](t, objs, "MutatingAdmissionPolicy", p.Name)
				assert.Equal(t, p.Spec, got.Spec, p.Name)
				assert.Equal(t, p.Annotations, got.Annotations, p.Name)
				assert.Equal(t, "native-policy", got.Labels["app.kubernetes.io/component"], p.Name)
				assert.Equal(t, release, got.Labels["app.kubernetes.io/instance"], p.Name)
			}
			for _, p := range want.ValidatingPolicies {
				got := get[admissionregistrationv1.ValidatingAdmissionPolicy](t, objs, "ValidatingAdmissionPolicy", p.Name)
				assert.Equal(t, p.Spec, got.Spec, p.Name)
				assert.Equal(t, p.Annotations, got.Annotations, p.Name)
				assert.Equal(t, "native-policy", got.Labels["app.kubernetes.io/component"], p.Name)
			}
			// The bindings see the namespaces the webhook sees.
			sel := &admissionregistrationv1.MatchResources{NamespaceSelector: w.NamespaceSelector}
			for _, b := range want.MutatingPolicyBindings {
				got := get[admissionregistrationv1.MutatingAdmissionPolicyBinding](t, objs, "MutatingAdmissionPolicyBinding", b.Name)
				b.Spec.MatchResources = sel
				assert.Equal(t, b.Spec, got.Spec, b.Name)
			}
			for _, b := range want.ValidatingPolicyBindings {
				got := get[admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, objs, "ValidatingAdmissionPolicyBinding", b.Name)
				b.Spec.MatchResources = sel
				assert.Equal(t, b.Spec, got.Spec, b.Name)
			}
			assert.Contains(t, w.NamespaceSelector.MatchExpressions[len(w.NamespaceSelector.MatchExpressions)-1].Values, "monitoring")
		})
	}
}
