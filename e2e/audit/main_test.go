// Package audit_test runs the real `seccomp-guard audit` binary against a
// real kube-apiserver with the real webhook registered: objects created
// while their namespace was disabled, which admission never evaluated, show
// up with the verdicts and the messages admission would give.
package audit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

var (
	cp  *framework.ControlPlane
	wh  *framework.Webhook
	k8s client.Client
	bin string
)

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, framework.Suite{Setup: setUp, Processes: framework.WebhookProcesses(&wh)}))
}

// setUp builds the binary, starts the webhook from it and registers it.
func setUp(ctx context.Context, c *framework.ControlPlane) error {
	cp, k8s = c, c.Client
	var err error
	if bin, err = framework.BuildBinary(cp.Dir); err != nil {
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

// runAudit runs `seccomp-guard audit` with the control plane's kubeconfig
// and returns its exit code, stdout and stderr.
func runAudit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"audit", "--kubeconfig", cp.Kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("running %s audit: %v", bin, err)
	return 0, "", ""
}
