package webhook_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// setMutatingWebhook points the mutating webhook at url with failurePolicy fp.
func setMutatingWebhook(t *testing.T, url string, fp admissionregistrationv1.FailurePolicyType) {
	t.Helper()
	ctx := context.Background()
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: framework.WebhookConfigName}, &cfg))
	require.Len(t, cfg.Webhooks, 1)
	cfg.Webhooks[0].ClientConfig.URL = &url
	cfg.Webhooks[0].FailurePolicy = &fp
	require.NoError(t, k8s.Update(ctx, &cfg))
}

// With the mutating webhook unreachable and its failurePolicy Ignore, the
// API server lets a pod through without a profile; the validating webhook
// then denies it in enforce (ProfileNotSet), instead of letting it run
// Unconfined. A pod that sets its profile is still admitted.
func TestMutatingWebhookSkippedProfileNotSet(t *testing.T) {
	ctx := context.Background()
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: framework.WebhookConfigName}, &cfg))
	realURL, realFP := *cfg.Webhooks[0].ClientConfig.URL, *cfg.Webhooks[0].FailurePolicy
	t.Cleanup(func() {
		setMutatingWebhook(t, realURL, realFP)
		// Wait until the API server calls the real mutating webhook again.
		ns := namespace(t, "enforce", nil)
		require.NoError(t, framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the mutating webhook to be called again", func(ctx context.Context) error {
			pod := newPod(ns, "plain")
			if err := k8s.Create(ctx, pod, client.DryRunAll); err != nil {
				return err
			}
			if pod.Spec.SecurityContext == nil || pod.Spec.SecurityContext.SeccompProfile == nil {
				return fmt.Errorf("not defaulted yet")
			}
			return nil
		}))
	})
	setMutatingWebhook(t, fmt.Sprintf("https://127.0.0.1:%d/mutate-unreachable", closedPort(t)), admissionregistrationv1.Ignore)

	ns := namespace(t, "enforce", nil)
	const want = `spec.securityContext.seccompProfile: not set, and seccomp-guard's mutating webhook, which would have set it to RuntimeDefault, was skipped (ProfileNotSet)`
	var err error
	require.NoError(t, framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the API server to skip the unreachable mutating webhook", func(ctx context.Context) error {
		err = k8s.Create(ctx, newPod(ns, "plain"), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "ProfileNotSet") {
			return nil
		}
		return fmt.Errorf("want a ProfileNotSet denial, got %w", err)
	}))
	require.True(t, apierrors.IsForbidden(err), "want Forbidden, got %v", err)
	assert.Contains(t, err.Error(), want)
	assert.Contains(t, err.Error(), "set it in the manifest, or retry when the mutating webhook is available")

	// The same pod with its own profile needs no mutating webhook.
	require.NoError(t, k8s.Create(ctx, newPod(ns, "explicit", podLevel(runtimeDefault))))
	assert.Equal(t, &corev1.SeccompProfile{Type: runtimeDefault}, podProfile(t, ns, "explicit"))
}
