package certs

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
)

func webhookConfigs(name string, caBundle []byte) []client.Object {
	url := "https://127.0.0.1:9443/x"
	cc := admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle}
	return []client.Object{
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: "a.seccomp-guard.io", ClientConfig: cc}, {Name: "b.seccomp-guard.io", ClientConfig: cc}},
		},
		&admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: "v.seccomp-guard.io", ClientConfig: cc}},
		},
	}
}

func newTestManager(objs ...client.Object) (*Manager, *clocktesting.FakeClock) {
	clock := clocktesting.NewFakeClock(t0)
	return &Manager{
		Client:  fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).Build(),
		Options: *testOptions(),
		Clock:   clock,
		Log:     logr.Discard(),
	}, clock
}

// caBundles returns the caBundle of every webhook of both configurations.
func caBundles(t *testing.T, m *Manager) []string {
	t.Helper()
	ctx := context.Background()
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	require.NoError(t, m.Client.Get(ctx, client.ObjectKey{Name: m.Options.WebhookConfigName}, mutating))
	require.NoError(t, m.Client.Get(ctx, client.ObjectKey{Name: m.Options.WebhookConfigName}, validating))
	var out []string
	for _, w := range mutating.Webhooks {
		out = append(out, string(w.ClientConfig.CABundle))
	}
	for _, w := range validating.Webhooks {
		out = append(out, string(w.ClientConfig.CABundle))
	}
	return out
}

func getSecret(t *testing.T, m *Manager) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	require.NoError(t, m.Client.Get(context.Background(), m.Options.Secret, s))
	return s
}

func TestReconcile(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		objs    func(opts *Options) []client.Object
		wantErr string
	}{
		{name: "empty caBundle", objs: func(o *Options) []client.Object { return webhookConfigs(o.WebhookConfigName, nil) }},
		{name: "stale caBundle", objs: func(o *Options) []client.Object { return webhookConfigs(o.WebhookConfigName, []byte("old")) }},
		{
			name:    "validating configuration missing",
			objs:    func(o *Options) []client.Object { return webhookConfigs(o.WebhookConfigName, nil)[:1] },
			wantErr: `ValidatingWebhookConfiguration "sg" does not exist: install it (the chart does) or fix --webhook-config-name`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTestManager()
			m, clock := newTestManager(tc.objs(&m.Options)...)
			next, err := m.Reconcile(ctx)
			secret := getSecret(t, m)
			assert.Equal(t, corev1.SecretTypeTLS, secret.Type)
			for _, k := range []string{CACertKey, CAKeyKey, TLSCertKey, TLSKeyKey} {
				assert.NotEmpty(t, secret.Data[k], k)
			}
			assert.Equal(t, t0.Add(m.Options.Validity-m.Options.RenewBefore), next)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			ca := string(secret.Data[CACertKey])
			assert.Equal(t, []string{ca, ca, ca}, caBundles(t, m), "every webhook trusts the CA")

			// Nothing to do: nothing written.
			rv := secret.ResourceVersion
			_, err = m.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, rv, getSecret(t, m).ResourceVersion)

			// Renewal falls due: a new serving certificate from the same CA.
			clock.SetTime(next)
			_, err = m.Reconcile(ctx)
			require.NoError(t, err)
			renewed := getSecret(t, m)
			assert.NotEqual(t, string(secret.Data[TLSCertKey]), string(renewed.Data[TLSCertKey]))
			assert.Equal(t, ca, string(renewed.Data[CACertKey]))
		})
	}
}

func TestReconcileRecreatesDeletedSecret(t *testing.T) {
	ctx := context.Background()
	m, _ := newTestManager(webhookConfigs("sg", nil)...)
	_, err := m.Reconcile(ctx)
	require.NoError(t, err)
	first := getSecret(t, m)
	require.NoError(t, m.Client.Delete(ctx, first))

	_, err = m.Reconcile(ctx)
	require.NoError(t, err)
	second := getSecret(t, m)
	assert.NotEqual(t, string(first.Data[CACertKey]), string(second.Data[CACertKey]), "a new CA")
	ca := string(second.Data[CACertKey])
	assert.Equal(t, []string{ca, ca, ca}, caBundles(t, m), "the configurations trust the new CA")
}

func TestReconcileCARotation(t *testing.T) {
	ctx := context.Background()
	m, clock := newTestManager(webhookConfigs("sg", nil)...)
	m.Options.CAValidity, m.Options.CARenewBefore = 200*24*time.Hour, 100*24*time.Hour
	_, err := m.Reconcile(ctx)
	require.NoError(t, err)
	clock.SetTime(t0.Add(99 * 24 * time.Hour)) // the serving certificate is renewed
	_, err = m.Reconcile(ctx)
	require.NoError(t, err)
	oldServing := string(getSecret(t, m).Data[TLSCertKey])

	// The CA is due: bundle of two, written into the configurations, old serving certificate kept.
	clock.SetTime(t0.Add(100 * 24 * time.Hour))
	next, err := m.Reconcile(ctx)
	require.NoError(t, err)
	secret := getSecret(t, m)
	bundle, _ := decode(t, secret.Data)
	require.Len(t, bundle, 2)
	assert.Equal(t, oldServing, string(secret.Data[TLSCertKey]))
	ca := string(secret.Data[CACertKey])
	assert.Equal(t, []string{ca, ca, ca}, caBundles(t, m))

	// After the propagation delay the serving certificate moves to the new CA.
	clock.SetTime(next)
	_, err = m.Reconcile(ctx)
	require.NoError(t, err)
	secret = getSecret(t, m)
	bundle, serving := decode(t, secret.Data)
	require.Len(t, bundle, 2)
	assert.True(t, signedBy(serving, bundle[0]))
}

func TestSource(t *testing.T) {
	opts := testOptions()
	data := issued(t, opts, time.Now())
	s := &Source{secret: opts.Secret, log: logr.Discard()}

	_, err := s.GetCertificate(&tls.ClientHelloInfo{})
	require.ErrorContains(t, err, "no serving certificate yet: waiting for Secret seccomp-guard/sg-webhook-tls")
	require.Error(t, s.Loaded(nil))

	s.load(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: opts.Secret.Name}, Data: data})
	require.Error(t, s.Loaded(nil), "another namespace's Secret is ignored")

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: opts.Secret.Namespace, Name: opts.Secret.Name}, Data: data}
	s.load(secret)
	require.NoError(t, s.Loaded(nil))
	got, err := s.GetCertificate(&tls.ClientHelloInfo{})
	require.NoError(t, err)
	_, serving := decode(t, data)
	assert.Equal(t, serving.SerialNumber, got.Leaf.SerialNumber)

	// A broken update keeps the last good certificate.
	broken := secret.DeepCopy()
	broken.Data[TLSKeyKey] = []byte("garbage")
	s.load(broken)
	got2, err := s.GetCertificate(&tls.ClientHelloInfo{})
	require.NoError(t, err)
	assert.Same(t, got, got2)
}

// validatingBundles returns the caBundle of every webhook of the validating
// configuration.
func validatingBundles(t *testing.T, m *Manager) []string {
	t.Helper()
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	require.NoError(t, m.Client.Get(context.Background(), client.ObjectKey{Name: m.Options.WebhookConfigName}, validating))
	var out []string
	for _, w := range validating.Webhooks {
		out = append(out, string(w.ClientConfig.CABundle))
	}
	return out
}

// TestReconcileValidatingOnly proves a hybrid install, which has no
// MutatingWebhookConfiguration, gets its caBundle: the validating
// configuration is patched whether or not the mutating one is expected.
func TestReconcileValidatingOnly(t *testing.T) {
	tests := []struct {
		name    string
		configs []string // Options.WebhookConfigs
		wantErr string
	}{
		{name: "only the validating configuration expected (--webhook-configs=validating)", configs: []string{ConfigValidating}},
		{
			name:    "both expected: the missing one is an error, the other is patched all the same",
			wantErr: `MutatingWebhookConfiguration "sg" does not exist: install it (the chart does) or fix --webhook-config-name, or leave it out of --webhook-configs`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			m, _ := newTestManager(webhookConfigs("sg", nil)[1:]...)
			m.Options.WebhookConfigs = tc.configs
			_, err := m.Reconcile(ctx)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			ca := string(getSecret(t, m).Data[CACertKey])
			require.NotEmpty(t, ca)
			assert.Equal(t, []string{ca}, validatingBundles(t, m), "the validating webhook trusts the CA")
		})
	}
}
