package certs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/certs"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/webhook"
)

// TestSelfManagedHybrid is the hybrid install with self-managed
// certificates: there is no MutatingWebhookConfiguration, only the
// validating one, and the webhook (--webhook-configs=validating, as the
// chart sets it) writes its CA into it, so the API server can call it.
func TestSelfManagedHybrid(t *testing.T) {
	ctx := context.Background()
	const (
		configName = "seccomp-guard-hybrid"
		secretName = "seccomp-guard-hybrid-tls"
		nsLabel    = "e2e.seccomp-guard.io/hybrid-certs"
	)
	w, err := framework.NewWebhookPorts()
	require.NoError(t, err)

	// Only this test's namespace is sent to it, so that the other tests never
	// depend on it.
	url := fmt.Sprintf("https://127.0.0.1:%d%s", w.Port, webhook.ValidatePath)
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: configName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "validate-hybrid.seccomp-guard.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules:                   framework.WebhookRules(),
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{nsLabel: "true"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			TimeoutSeconds:          new(int32(5)),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	require.NoError(t, k8s.Create(ctx, validating))
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), validating) })

	require.NoError(t, w.StartSelfManaged(ctx, cp, bin, releaseNamespace, secretName,
		"--webhook-config-name", configName, "--webhook-configs", "validating"))
	t.Cleanup(func() { _ = w.Stop() })

	var ca []byte
	require.Eventually(t, func() bool {
		s := &corev1.Secret{}
		if k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: secretName}, s) != nil {
			return false
		}
		ca = s.Data[certs.CACertKey]
		got := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		return len(ca) > 0 && k8s.Get(ctx, client.ObjectKey{Name: configName}, got) == nil &&
			string(got.Webhooks[0].ClientConfig.CABundle) == string(ca)
	}, 30*time.Second, 200*time.Millisecond, "the validating configuration trusts the webhook's CA\nwebhook log:\n%s", w.Log())

	// The API server calls it over TLS (failurePolicy Fail: a failed call
	// would refuse the pod).
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-hybrid-certs", Labels: map[string]string{nsLabel: "true"}}}
	require.NoError(t, k8s.Create(ctx, ns))
	assert.NoError(t, k8s.Create(ctx, newPod(ns.Name, nil), client.DryRunAll), "webhook log:\n%s", w.Log())
}
