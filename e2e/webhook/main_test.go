// Package webhook_test drives the real seccomp-guard webhook binary through a
// real kube-apiserver, and asserts what a user sees.
package webhook_test

import (
	"context"
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
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if missing := framework.MissingAssets(); len(missing) > 0 {
		msg := fmt.Sprintf("control plane not built (missing %s): run `make controlplane`", strings.Join(missing, ", "))
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL: "+msg)
			return 1
		}
		fmt.Fprintln(os.Stderr, "SKIP: "+msg)
		return 0
	}
	ctx := context.Background()
	var err error
	if cp, err = framework.StartControlPlane(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keep := false
	defer func() {
		if keep {
			fmt.Fprintf(os.Stderr, "logs kept in %s (webhook.log, audit.log)\n", cp.Dir)
			_ = cp.Env.Stop()
			return
		}
		cp.Stop()
	}()
	k8s = cp.Client
	bin, err := framework.BuildBinary(cp.Dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if wh, err = framework.StartWebhook(ctx, cp, bin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		keep = true
		return 1
	}
	defer func() { _ = wh.Stop() }()
	if err := framework.InstallWebhookConfigs(ctx, k8s, wh); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := waitWebhookActive(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err, "\n", wh.Log())
		keep = true
		return 1
	}
	code := m.Run()
	if code != 0 {
		keep = true
	}
	// SIGTERM: the webhook drains and exits cleanly.
	if err := wh.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the webhook did not exit cleanly on SIGTERM: %v\n", err)
		keep = true
		return 1
	}
	return code
}

// waitWebhookActive waits until the API server calls the webhook: a dry-run
// Unconfined pod in an enforce namespace is refused.
func waitWebhookActive(ctx context.Context) error {
	ns := "e2e-probe"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{policy.ModeLabel: "enforce"}}}); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pod := newPod(ns, "probe", podLevel(corev1.SeccompProfileTypeUnconfined))
		err := k8s.Create(ctx, pod, client.DryRunAll)
		if err != nil && apierrors.IsForbidden(err) && strings.Contains(err.Error(), "UnconfinedForbidden") {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the API server did not start calling the webhook within 30s")
}
