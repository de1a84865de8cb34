// Package audit_test runs the real `seccomp-guard audit` binary against a
// real kube-apiserver with the real webhook registered: objects created
// while their namespace was disabled, which admission never evaluated, show
// up with the verdicts and the messages admission would give.
package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
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
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}, Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			Containers:      []corev1.Container{{Name: "c", Image: "registry.example/c"}},
		}}
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
