// Package certmanager_test runs the real cert-manager controllers and
// cainjector (bin/cert-manager, `make cert-manager`) against a real
// kube-apiserver, and holds the chart's cert-manager certificate mode to what
// they do with its objects: the Secret the webhook Deployment mounts is
// issued, valid for the webhook's Service and chained to the release's CA,
// and the CA lands in both webhook configurations' caBundle.
package certmanager_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

var (
	cp  *framework.ControlPlane
	cm  *framework.CertManager
	k8s client.Client // knows cert-manager's types

	metricsPort int // the controller's Prometheus metrics
)

func TestMain(m *testing.M) {
	if ok, code := framework.CertManagerBuilt(); !ok {
		os.Exit(code)
	}
	os.Exit(framework.Main(m, framework.Suite{
		Setup: setUp,
		Processes: func() []*framework.Process {
			if cm == nil {
				return nil
			}
			return []*framework.Process{cm.Process}
		},
	}))
}

func setUp(ctx context.Context, c *framework.ControlPlane) error {
	cp = c
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cmapi.AddToScheme(scheme))
	var err error
	if k8s, err = client.New(cp.Config, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	if metricsPort, err = framework.FreePort(); err != nil {
		return err
	}
	cm, err = framework.StartCertManager(ctx, cp, "--metrics-address", "127.0.0.1:"+strconv.Itoa(metricsPort))
	return err
}
