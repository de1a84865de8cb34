package certmanager_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// TestRefusedFlags runs the binary with wrong flags: it exits 1 at once and
// says what was wrong and what to do.
func TestRefusedFlags(t *testing.T) {
	dir, err := framework.CertManagerDir()
	require.NoError(t, err)
	bin := filepath.Join(dir, "cert-manager")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "no kubeconfig",
			args: nil,
			want: "cert-manager: --kubeconfig is required: the kubeconfig of the cluster cert-manager should run against\n",
		},
		{
			name: "healthz on every interface",
			args: []string{"--kubeconfig", cp.Kubeconfig, "--healthz-address", "0.0.0.0:9403"},
			want: "cert-manager: --healthz-address \"0.0.0.0:9403\": listen on a loopback address only, e.g. 127.0.0.1:9403\n",
		},
		{
			name: "metrics without a port",
			args: []string{"--kubeconfig", cp.Kubeconfig, "--metrics-address", "127.0.0.1"},
			want: "cert-manager: --metrics-address \"127.0.0.1\": address 127.0.0.1: missing port in address (want host:port, e.g. 127.0.0.1:9403)\n",
		},
		{
			name: "a controller this binary does not have",
			args: []string{"--kubeconfig", cp.Kubeconfig, "--controllers", "issuers,orders"},
			want: "cert-manager: --controllers: unknown controller \"orders\"; this binary has: " + strings.Join(knownControllers, ", ") + "\n",
		},
		{
			name: "an unknown feature gate",
			args: []string{"--kubeconfig", cp.Kubeconfig, "--feature-gates", "NoSuchGate=true"},
			want: "cert-manager: --feature-gates: unrecognized feature gate: NoSuchGate\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
			assert.Equal(t, 1, exit.ExitCode())
			assert.Equal(t, tc.want, stderr.String())
		})
	}
}

// knownControllers are the controllers bin/cert-manager compiles in.
var knownControllers = []string{
	"certificaterequests-approver",
	"certificaterequests-issuer-ca",
	"certificaterequests-issuer-selfsigned",
	"certificates-issuing",
	"certificates-key-manager",
	"certificates-metrics",
	"certificates-readiness",
	"certificates-request-manager",
	"certificates-revision-manager",
	"certificates-trigger",
	"clusterissuers",
	"issuers",
}
