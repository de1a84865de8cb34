// Package recording_test runs the real `seccomp-guard profile record` and
// `profile recordings` binaries against a real kube-apiserver: two nodes'
// NodeSeccompInventories hold recordings of the same workload, and the
// merged least-privilege profile goes to a file, a ConfigMap and a Security
// Profiles Operator SeccompProfile (the operator's real CRD, from its Go
// module).
package recording_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

var (
	cp  *framework.ControlPlane
	k8s client.Client
	bin string
)

func TestMain(m *testing.M) {
	// envtest.InstallCRDs logs through controller-runtime; nothing to see.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(framework.Main(m, framework.Suite{Setup: setUp}))
}

// setUp builds the binary; the tests need no webhook.
func setUp(_ context.Context, c *framework.ControlPlane) error {
	cp, k8s = c, c.Client
	var err error
	bin, err = framework.BuildBinary(cp.Dir)
	return err
}

// run runs the binary with the control plane's kubeconfig and returns its
// exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--kubeconfig", cp.Kubeconfig)...)
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
	t.Fatalf("running %s %v: %v", bin, args, err)
	return 0, "", ""
}
