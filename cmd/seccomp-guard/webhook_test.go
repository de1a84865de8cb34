package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWebhookClientCAFile checks --client-ca-file before anything else
// starts: a file that is missing or holds no certificate is a usage error
// that names the flag.
func TestWebhookClientCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.crt")
	tests := []struct {
		name       string
		file       string
		wantStderr string
	}{
		{name: "missing file", file: missing, wantStderr: "Error: --client-ca-file: open " + missing + ": no such file or directory\n"},
		{
			name: "no PEM certificate", file: notPEM,
			wantStderr: "Error: --client-ca-file " + notPEM + " holds no PEM certificate: give the CA certificate(s) that sign the API server's webhook client certificate\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "webhook", "--client-ca-file="+tc.file)
			assert.Equal(t, exitUsage, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tc.wantStderr)
		})
	}
}

// TestWebhookLeaseTimings: lease timings client-go would refuse are a
// usage error that names both flags.
func TestWebhookLeaseTimings(t *testing.T) {
	tests := []struct{ name, duration, deadline string }{
		{name: "deadline not shorter than the duration", duration: "30s", deadline: "30s"},
		{name: "deadline within the retry period", duration: "50s", deadline: "5s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "webhook", "--leader-elect-lease-duration="+tc.duration, "--leader-elect-renew-deadline="+tc.deadline)
			assert.Equal(t, exitUsage, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, "Error: --leader-elect-lease-duration "+tc.duration+" and --leader-elect-renew-deadline "+tc.deadline+": the lease duration must be longer than the renew deadline, and the renew deadline longer than 6s (1.2 × the 5s retry period)\n")
		})
	}
}
