// Package leader_test runs the webhook's leader Elector (webhook.Elector)
// in-process against a real kube-apiserver, each candidate reaching it
// through its own TCP proxy: closing a proxy is an API server outage as
// that candidate sees it (every connection cut, no answer), while the
// other candidate may still reach the API server.
package leader_test

import (
	"context"
	"os"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// namespace holds the leader Lease.
const namespace = "seccomp-guard"

var cp *framework.ControlPlane

func TestMain(m *testing.M) {
	// envtest.InstallCRDs logs through controller-runtime; nothing to see.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(framework.Main(m, framework.Suite{Setup: func(ctx context.Context, c *framework.ControlPlane) error {
		cp = c
		return cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
	}}))
}
