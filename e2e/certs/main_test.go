// Package certs_test runs the real webhook binary with
// --cert-mode=self-managed against a real kube-apiserver: it issues its
// own CA and serving certificate into a Secret, writes the CA into the
// webhook configurations, renews the certificate while requests flow, and
// recovers when the Secret is deleted.
package certs_test

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// The release namespace (always excluded by the webhooks' namespace
// selector) and the Secret the webhook manages.
const (
	releaseNamespace = "seccomp-guard"
	secretName       = "seccomp-guard-webhook-tls"
)

// Short lifetimes, so that renewals happen during the test: the serving
// certificate is renewed 5s after it is issued.
var shortLifetimes = []string{"--cert-validity", "20s", "--cert-renew-before", "15s"}

var (
	cp  *framework.ControlPlane
	wh  *framework.Webhook
	k8s client.Client
	// bin is the seccomp-guard binary, for tests that start another webhook.
	bin string
)

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, framework.Suite{Setup: setUp, Processes: framework.WebhookProcesses(&wh)}))
}

// setUp creates the webhook configurations with an empty caBundle, as the
// chart installs them, then starts the webhook in self-managed mode.
func setUp(ctx context.Context, c *framework.ControlPlane) error {
	cp, k8s = c, c.Client
	var err error
	if bin, err = framework.BuildBinary(cp.Dir); err != nil {
		return err
	}
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace}}); err != nil {
		return err
	}
	if wh, err = framework.NewWebhookPorts(); err != nil {
		return err
	}
	if err := framework.InstallWebhookConfigs(ctx, k8s, wh); err != nil {
		return err
	}
	return wh.StartSelfManaged(ctx, cp, bin, releaseNamespace, secretName, shortLifetimes...)
}
