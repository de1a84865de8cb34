// Package webhook_test drives the real seccomp-guard webhook binary through a
// real kube-apiserver, and asserts what a user sees.
package webhook_test

import (
	"context"
	"os"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
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
	return framework.WaitWebhookActive(ctx, k8s)
}
