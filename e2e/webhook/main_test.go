// Package webhook_test drives the real seccomp-guard webhook binary through a
// real kube-apiserver, and asserts what a user sees.
package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

var (
	cp  *framework.ControlPlane
	wh  *framework.Webhook
	k8s client.Client
)

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, framework.Suite{Setup: setUp, Processes: framework.WebhookProcesses(&wh)}))
}

// setUp starts the real webhook binary and registers it.
func setUp(ctx context.Context, c *framework.ControlPlane) error {
	cp, k8s = c, c.Client
	bin, err := framework.BuildBinary(cp.Dir)
	if err != nil {
		return err
	}
	if wh, err = framework.StartWebhook(ctx, cp, bin); err != nil {
		return err
	}
	if err := framework.InstallWebhookConfigs(ctx, k8s, wh); err != nil {
		return err
	}
	return waitWebhookActive(ctx)
}

// waitWebhookActive waits until the API server calls the webhook: a dry-run
// Unconfined pod in an enforce namespace is refused.
func waitWebhookActive(ctx context.Context) error {
	ns := "e2e-probe"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{policy.ModeLabel: "enforce"}}}); err != nil {
		return err
	}
	return framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the API server to call the webhook", func(ctx context.Context) error {
		pod := newPod(ns, "probe", podLevel(corev1.SeccompProfileTypeUnconfined))
		err := k8s.Create(ctx, pod, client.DryRunAll)
		switch {
		case err == nil:
			return errors.New("a dry-run Unconfined pod in an enforce namespace was admitted, want UnconfinedForbidden")
		case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "UnconfinedForbidden"):
			return nil
		}
		return fmt.Errorf("a dry-run Unconfined pod in an enforce namespace: want UnconfinedForbidden, got %w", err)
	})
}
