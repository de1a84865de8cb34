package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"
)

func TestCertFlags(t *testing.T) {
	selfManaged := []string{"--cert-mode=self-managed", "--cert-dns-names=sg-webhook.ns.svc,127.0.0.1", "--webhook-config-name=sg"}
	tests := []struct {
		name       string
		args       []string
		wantNil    bool
		wantSecret types.NamespacedName
		// wantConfigs is certs.Options.WebhookConfigs; nil means both.
		wantConfigs []string
		wantErr     string
	}{
		{name: "files by default", wantNil: true},
		{name: "files with --cert-dir", args: []string{"--cert-dir=/tls"}, wantNil: true},
		{
			name: "self-managed, namespace from --inventory-namespace", args: append(selfManaged, "--cert-secret=sg-tls"),
			wantSecret: types.NamespacedName{Namespace: "seccomp-guard", Name: "sg-tls"},
		},
		{
			name: "self-managed, namespace/name", args: append(selfManaged, "--cert-secret=ns/sg-tls"),
			wantSecret: types.NamespacedName{Namespace: "ns", Name: "sg-tls"},
		},
		{
			name: "self-managed, hybrid: the validating configuration only", args: append(selfManaged, "--cert-secret=sg-tls", "--webhook-configs=validating"),
			wantSecret: types.NamespacedName{Namespace: "seccomp-guard", Name: "sg-tls"}, wantConfigs: []string{"validating"},
		},
		{
			name: "--webhook-configs names an unknown configuration", args: append(selfManaged, "--cert-secret=sg-tls", "--webhook-configs=validating,webhook"),
			wantErr: `--webhook-configs entry "webhook" is not a webhook configuration: use mutating, validating or both`,
		},
		{name: "--webhook-configs in files mode", args: []string{"--webhook-configs=validating"}, wantErr: "--webhook-configs needs --cert-mode=self-managed"},
		{name: "unknown mode", args: []string{"--cert-mode=auto"}, wantErr: `--cert-mode "auto" is not supported: use files or self-managed`},
		{name: "self-managed flag in files mode", args: []string{"--cert-validity=1h"}, wantErr: "--cert-validity needs --cert-mode=self-managed"},
		{name: "--cert-dir in self-managed mode", args: append(selfManaged, "--cert-secret=sg-tls", "--cert-dir=/tls"), wantErr: "--cert-dir is not used with --cert-mode=self-managed"},
		{name: "bad --cert-secret", args: append(selfManaged, "--cert-secret=ns/"), wantErr: `--cert-secret "ns/" must be name or namespace/name`},
		{name: "missing --cert-secret", args: selfManaged, wantErr: "--cert-secret is required"},
		{
			name: "renew-before not shorter than validity", args: append(selfManaged, "--cert-secret=sg-tls", "--cert-validity=20s", "--cert-renew-before=30s"),
			wantErr: "--cert-renew-before (30s) must be positive and shorter than --cert-validity (20s)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := pflag.NewFlagSet("webhook", pflag.ContinueOnError)
			f.String("cert-dir", "", "")
			var c certFlags
			c.bind(f)
			require.NoError(t, f.Parse(tc.args))
			opts, err := c.options(f, "seccomp-guard")
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Equal(t, exitUsage, exitCode(err))
				return
			}
			require.NoError(t, err)
			if tc.wantNil {
				assert.Nil(t, opts)
				return
			}
			require.NotNil(t, opts)
			assert.Equal(t, tc.wantSecret, opts.Secret)
			assert.Equal(t, []string{"sg-webhook.ns.svc", "127.0.0.1"}, opts.DNSNames)
			assert.Equal(t, 90*24*time.Hour, opts.Validity)
			wantConfigs := tc.wantConfigs
			if wantConfigs == nil {
				wantConfigs = []string{"mutating", "validating"}
			}
			assert.Equal(t, wantConfigs, opts.WebhookConfigs)
		})
	}
}
