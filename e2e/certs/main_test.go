// Package certs_test runs the real webhook binary with
// --cert-mode=self-managed against a real kube-apiserver: it issues its
// own CA and serving certificate into a Secret, writes the CA into the
// webhook configurations, renews the certificate while requests flow, and
// recovers when the Secret is deleted.
package certs_test

import (
	"context"
	"fmt"
	"os"
	"strings"
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
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The configurations exist first, with an empty caBundle, as the chart
	// installs them.
	if wh, err = framework.NewWebhookPorts(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := framework.InstallWebhookConfigs(ctx, k8s, wh); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := wh.StartSelfManaged(ctx, cp, bin, releaseNamespace, secretName, shortLifetimes...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		keep = true
		return 1
	}
	defer func() { _ = wh.Stop() }()
	code := m.Run()
	if code != 0 {
		keep = true
	}
	if err := wh.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the webhook did not exit cleanly on SIGTERM: %v\n", err)
		keep = true
		return 1
	}
	return code
}
