package certs_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/certs"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

var nsCounter atomic.Int32

func enforceNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("e2e-enforce-%d", nsCounter.Add(1))
	require.NoError(t, k8s.Create(context.Background(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{policy.ModeLabel: "enforce"}},
	}))
	return name
}

func newPod(ns string, profile *corev1.SeccompProfile) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	if profile != nil {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: profile}
	}
	return p
}

// secret returns the certificate Secret, or nil while it does not exist.
func secret(t *testing.T) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: releaseNamespace, Name: secretName}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return s
}

func parseCert(t *testing.T, pemData []byte) *x509.Certificate {
	t.Helper()
	certs, err := parsePEM(pemData)
	require.NoError(t, err)
	return certs[0]
}

func parsePEM(pemData []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for block, rest := pem.Decode(pemData); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificate in %q", pemData)
	}
	return out, nil
}

// served connects to the webhook, verifying it with caBundle as the API
// server does, and returns the certificate it presents.
func served(caBundle []byte) (*x509.Certificate, error) {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caBundle)
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", wh.Port), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// caBundles returns the caBundle of every webhook of both configurations.
func caBundles(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: framework.WebhookConfigName}, m))
	require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: framework.WebhookConfigName}, v))
	var out []string
	for _, w := range m.Webhooks {
		out = append(out, string(w.ClientConfig.CABundle))
	}
	for _, w := range v.Webhooks {
		out = append(out, string(w.ClientConfig.CABundle))
	}
	return out
}

// requests sends dry-run pod creations through the API server (and so
// through both webhooks) until stopped, counting failures.
type requests struct {
	sent, failed atomic.Int64
	firstErr     atomic.Value
	stop         chan struct{}
	wg           sync.WaitGroup
}

func startRequests(ns string) *requests {
	r := &requests{stop: make(chan struct{})}
	for range 2 {
		r.wg.Go(func() {
			for {
				select {
				case <-r.stop:
					return
				default:
				}
				r.sent.Add(1)
				if err := k8s.Create(context.Background(), newPod(ns, nil), client.DryRunAll); err != nil {
					r.failed.Add(1)
					r.firstErr.CompareAndSwap(nil, err.Error())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	return r
}

func (r *requests) Stop() {
	close(r.stop)
	r.wg.Wait()
}

func TestSelfManagedCertificates(t *testing.T) {
	ctx := context.Background()

	t.Run("the Secret is created and the CA written into both configurations", func(t *testing.T) {
		var s *corev1.Secret
		require.Eventually(t, func() bool { s = secret(t); return s != nil }, 30*time.Second, 200*time.Millisecond)
		assert.Equal(t, corev1.SecretTypeTLS, s.Type)
		for _, k := range []string{certs.CACertKey, certs.CAKeyKey, certs.TLSCertKey, certs.TLSKeyKey} {
			assert.NotEmpty(t, s.Data[k], k)
		}
		require.Eventually(t, func() bool {
			ca := string(secret(t).Data[certs.CACertKey])
			bundles := caBundles(t)
			// The mutating webhook, the validating one and the gated-pod one.
			return len(bundles) == 3 && !slices.ContainsFunc(bundles, func(b string) bool { return b != ca })
		}, 30*time.Second, 200*time.Millisecond, "every webhook of both configurations trusts ca.crt")
		leaf, err := served(s.Data[certs.CACertKey])
		require.NoError(t, err, "the served certificate verifies against ca.crt for 127.0.0.1")
		assert.Contains(t, leaf.DNSNames, "localhost")
	})

	t.Run("the API server trusts the webhook", func(t *testing.T) {
		ns := enforceNamespace(t)
		pod := newPod(ns, nil)
		require.Eventually(t, func() bool {
			return k8s.Create(ctx, pod, client.DryRunAll) == nil
		}, 30*time.Second, 200*time.Millisecond)
		require.NotNil(t, pod.Spec.SecurityContext, "defaulted by the mutating webhook")
		assert.Equal(t, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}, pod.Spec.SecurityContext.SeccompProfile)

		err := k8s.Create(ctx, newPod(ns, &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}), client.DryRunAll)
		require.Error(t, err)
		assert.True(t, apierrors.IsForbidden(err), "%v", err)
		assert.Contains(t, err.Error(), "UnconfinedForbidden")
	})

	t.Run("renewals while requests flow fail no request", func(t *testing.T) {
		ns := enforceNamespace(t)
		first := parseCert(t, secret(t).Data[certs.TLSCertKey])
		r := startRequests(ns)
		// Two renewals (every 5s), each served by the webhook without a restart.
		seen := map[string]bool{first.SerialNumber.String(): true}
		require.Eventually(t, func() bool {
			s := secret(t)
			if s == nil {
				return false
			}
			cert := parseCert(t, s.Data[certs.TLSCertKey])
			leaf, err := served(s.Data[certs.CACertKey])
			if err == nil && leaf.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				seen[cert.SerialNumber.String()] = true
			}
			return len(seen) >= 3
		}, 40*time.Second, 100*time.Millisecond, "the Secret's renewed certificate is served")
		time.Sleep(time.Second)
		r.Stop()
		assert.Greater(t, r.sent.Load(), int64(50), "requests flowed during the renewals")
		assert.Zero(t, r.failed.Load(), "failed requests during renewal; first: %v", r.firstErr.Load())
		assert.Contains(t, wh.Log(), "issued certificates")
	})

	t.Run("a deleted Secret is recreated and requests recover", func(t *testing.T) {
		ns := enforceNamespace(t)
		old := secret(t)
		require.NotNil(t, old)
		require.NoError(t, k8s.Delete(ctx, old))
		var recreated *corev1.Secret
		require.Eventually(t, func() bool {
			recreated = secret(t)
			return recreated != nil && recreated.UID != old.UID
		}, 30*time.Second, 100*time.Millisecond, "the Secret is recreated")
		assert.NotEqual(t, string(old.Data[certs.CACertKey]), string(recreated.Data[certs.CACertKey]), "with a new CA")
		require.Eventually(t, func() bool {
			return k8s.Create(ctx, newPod(ns, nil), client.DryRunAll) == nil
		}, 30*time.Second, 200*time.Millisecond, "requests succeed again")
		ca := string(secret(t).Data[certs.CACertKey])
		for _, b := range caBundles(t) {
			assert.Equal(t, ca, b)
		}
	})
}
