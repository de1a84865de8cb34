package certs

import (
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func testOptions() *Options {
	o := &Options{
		Secret:            types.NamespacedName{Namespace: "seccomp-guard", Name: "sg-webhook-tls"},
		DNSNames:          []string{"sg-webhook.seccomp-guard.svc", "sg-webhook.seccomp-guard.svc.cluster.local", "127.0.0.1"},
		WebhookConfigName: "sg",
	}
	o.SetDefaults()
	return o
}

// issued returns the Secret data of a fresh issue at now.
func issued(t *testing.T, opts *Options, now time.Time) map[string][]byte {
	t.Helper()
	p, err := planSecret(nil, opts, now, false)
	require.NoError(t, err)
	require.NotNil(t, p.data)
	return p.data
}

func decode(t *testing.T, data map[string][]byte) (bundle []*x509.Certificate, serving *x509.Certificate) {
	t.Helper()
	bundle, err := pki.DecodeX509CertificateSetBytes(data[CACertKey])
	require.NoError(t, err)
	serving, err = pki.DecodeX509CertificateBytes(data[TLSCertKey])
	require.NoError(t, err)
	return bundle, serving
}

func TestIssue(t *testing.T) {
	opts := testOptions()
	data := issued(t, opts, t0)
	bundle, serving := decode(t, data)

	require.Len(t, bundle, 1)
	ca := bundle[0]
	assert.True(t, ca.IsCA)
	assert.Equal(t, t0.Add(opts.CAValidity), ca.NotAfter)
	assert.Equal(t, []string{"sg-webhook.seccomp-guard.svc", "sg-webhook.seccomp-guard.svc.cluster.local"}, serving.DNSNames)
	assert.True(t, serving.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")), "IP entries become IP SANs")
	assert.Equal(t, "sg-webhook.seccomp-guard.svc", serving.Subject.CommonName)
	assert.Equal(t, t0.Add(-backdate), serving.NotBefore)
	assert.Equal(t, t0.Add(opts.Validity), serving.NotAfter)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, serving.ExtKeyUsage)
	assert.False(t, serving.IsCA)

	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := serving.Verify(x509.VerifyOptions{Roots: pool, DNSName: "sg-webhook.seccomp-guard.svc", CurrentTime: t0})
	require.NoError(t, err, "the API server trusts the serving certificate through ca.crt")
	_, err = servingKeyPair(data[TLSCertKey], data[TLSKeyKey])
	require.NoError(t, err, "tls.crt and tls.key form a key pair")
}

func TestPlanSecret(t *testing.T) {
	opts := testOptions()
	fresh := issued(t, opts, t0)
	renewAt := t0.Add(opts.Validity - opts.RenewBefore)
	tests := []struct {
		name        string
		data        map[string][]byte
		now         time.Time
		trusted     bool
		opts        func(*Options)
		wantChange  bool
		wantNewCA   bool
		wantNewCert bool
		wantReason  string
		wantNext    time.Time
	}{
		{name: "up to date", data: fresh, now: t0.Add(time.Hour), trusted: true, wantNext: renewAt},
		{name: "just before renewal", data: fresh, now: renewAt.Add(-time.Second), trusted: true, wantNext: renewAt},
		{
			name: "serving certificate within renew-before", data: fresh, now: renewAt, trusted: true,
			wantChange: true, wantNewCert: true, wantReason: "the serving certificate expires at",
			wantNext: renewAt.Add(opts.Validity - opts.RenewBefore),
		},
		{
			name: "DNS names changed", data: fresh, now: t0.Add(time.Hour), trusted: true,
			opts:       func(o *Options) { o.DNSNames = []string{"other.seccomp-guard.svc"} },
			wantChange: true, wantNewCert: true, wantReason: "the serving certificate is for",
		},
		{
			name: "tls.key missing", data: without(fresh, TLSKeyKey), now: t0.Add(time.Hour), trusted: true,
			wantChange: true, wantNewCert: true, wantReason: "tls.crt/tls.key",
		},
		{
			name: "CA key missing: a new CA, and a serving certificate it signs", data: without(fresh, CAKeyKey), now: t0.Add(time.Hour),
			wantChange: true, wantNewCA: true, wantNewCert: true, wantReason: "ca.crt/ca.key",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := *opts
			if tc.opts != nil {
				tc.opts(&o)
			}
			p, err := planSecret(tc.data, &o, tc.now, tc.trusted)
			require.NoError(t, err)
			if !tc.wantNext.IsZero() {
				assert.Equal(t, tc.wantNext, p.next)
			}
			if !tc.wantChange {
				assert.Nil(t, p.data)
				return
			}
			require.NotNil(t, p.data)
			assert.Contains(t, joined(p.reasons), tc.wantReason)
			assert.Equal(t, tc.wantNewCA, string(p.data[CAKeyKey]) != string(tc.data[CAKeyKey]), "new CA")
			assert.Equal(t, tc.wantNewCert, string(p.data[TLSCertKey]) != string(tc.data[TLSCertKey]), "new serving certificate")
			bundle, serving := decode(t, p.data)
			assert.True(t, signedBy(serving, bundle[0]), "signed by the current CA")
			assert.True(t, sameNames(serving, o.DNSNames))
		})
	}
}

func TestCARotation(t *testing.T) {
	opts := testOptions()
	caRenewAt := t0.Add(opts.CAValidity - opts.CARenewBefore)
	// A serving certificate renewed an hour before the CA's renewal falls due.
	p, err := planSecret(issued(t, opts, t0), opts, caRenewAt.Add(-time.Hour), true)
	require.NoError(t, err)
	first := p.data
	oldBundle, oldServing := decode(t, first)
	oldCA := oldBundle[0]

	// 1. The CA nears expiry: a new CA first in the bundle, the old one
	// kept, and the serving certificate (signed by the old CA) left alone
	// until the configurations trust the new CA.
	p, err = planSecret(first, opts, caRenewAt, true)
	require.NoError(t, err)
	require.NotNil(t, p.data)
	assert.Contains(t, joined(p.reasons), "the CA expires at")
	bundle, serving := decode(t, p.data)
	require.Len(t, bundle, 2)
	assert.False(t, bundle[0].Equal(oldCA), "a new CA signs")
	assert.True(t, bundle[1].Equal(oldCA), "the old CA stays trusted during the overlap")
	assert.True(t, serving.Equal(oldServing), "the serving certificate does not move before the API server trusts the new CA")
	settlesAt := bundle[0].NotBefore.Add(backdate + caPropagation)
	assert.Equal(t, settlesAt, p.next)
	rotated := p.data

	// 2. Configurations not yet updated: still no move, even later.
	p, err = planSecret(rotated, opts, settlesAt.Add(time.Minute), false)
	require.NoError(t, err)
	assert.Nil(t, p.data)

	// 3. Configurations trust the bundle, but too recently.
	p, err = planSecret(rotated, opts, settlesAt.Add(-time.Second), true)
	require.NoError(t, err)
	assert.Nil(t, p.data)
	assert.Equal(t, settlesAt, p.next)

	// 4. Trusted long enough: the serving certificate moves to the new CA; both CAs stay.
	p, err = planSecret(rotated, opts, settlesAt, true)
	require.NoError(t, err)
	require.NotNil(t, p.data)
	assert.Contains(t, joined(p.reasons), "moves to the new CA")
	bundle, serving = decode(t, p.data)
	require.Len(t, bundle, 2)
	assert.True(t, signedBy(serving, bundle[0]))
	assert.Equal(t, serving.NotAfter.Add(-opts.RenewBefore), p.next, "looks again when the serving certificate is due")

	// 5. The old CA expires: dropped from the bundle.
	p, err = planSecret(p.data, opts, oldCA.NotAfter, true)
	require.NoError(t, err)
	require.NotNil(t, p.data)
	bundle, _ = decode(t, p.data)
	require.Len(t, bundle, 1)
	assert.False(t, bundle[0].Equal(oldCA))
}

func TestServingNeverOutlivesCA(t *testing.T) {
	opts := testOptions()
	opts.CAValidity, opts.CARenewBefore = 100*24*time.Hour, 10*24*time.Hour
	data := issued(t, opts, t0)
	bundle, serving := decode(t, data)
	assert.False(t, serving.NotAfter.After(bundle[0].NotAfter))
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		tweak   func(*Options)
		wantErr string
	}{
		{name: "valid", tweak: func(*Options) {}},
		{name: "no Secret", tweak: func(o *Options) { o.Secret.Name = "" }, wantErr: "--cert-secret is required"},
		{name: "bad Secret name", tweak: func(o *Options) { o.Secret.Name = "Bad_Name" }, wantErr: `--cert-secret name "Bad_Name" is not a valid Secret name`},
		{name: "no DNS names", tweak: func(o *Options) { o.DNSNames = nil }, wantErr: "--cert-dns-names is required"},
		{name: "bad DNS name", tweak: func(o *Options) { o.DNSNames = []string{"svc_1.ns.svc"} }, wantErr: `--cert-dns-names entry "svc_1.ns.svc" is neither an IP address nor a DNS name`},
		{name: "no configuration name", tweak: func(o *Options) { o.WebhookConfigName = "" }, wantErr: "--webhook-config-name is required"},
		{
			name: "an unknown configuration", tweak: func(o *Options) { o.WebhookConfigs = []string{ConfigValidating, "Mutating"} },
			wantErr: `--webhook-configs entry "Mutating" is not a webhook configuration: use mutating, validating or both`,
		},
		{name: "renew-before too long", tweak: func(o *Options) { o.RenewBefore = o.Validity }, wantErr: "--cert-renew-before (2160h0m0s) must be positive and shorter than --cert-validity (2160h0m0s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			tc.tweak(o)
			err := o.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func without(data map[string][]byte, key string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range data {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func joined(reasons []string) string {
	s := ""
	for _, r := range reasons {
		s += r + "\n"
	}
	return s
}
