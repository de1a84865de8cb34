package certmanager_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// skipOrFail skips, or fails under CI=true, when a prerequisite is missing.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// chartRelease is what the chart in cert-manager mode asks cert-manager for,
// read from its rendered objects.
type chartRelease struct {
	namespace    string
	caCert       *cmapi.Certificate // isCA, issued by the self-signed Issuer
	servingCert  *cmapi.Certificate // issued by the CA Issuer
	issuers      []string
	mountedTLS   string   // the Secret the webhook Deployment mounts
	serviceNames []string // <service>.<namespace>.svc of each webhook's clientConfig
	configs      []client.Object
}

// installChart renders the chart with certificates.mode=cert-manager as
// release into namespace, applies its cert-manager objects and its two
// webhook configurations (nothing else: no webhook runs here), and returns
// what they say. The webhook configurations are deleted at the end of the
// test.
func installChart(ctx context.Context, t *testing.T, release, namespace string) chartRelease {
	t.Helper()
	objs, err := framework.RenderChart(release, namespace, map[string]any{
		"certificates": map[string]any{"mode": "cert-manager"},
	})
	if errors.Is(err, framework.ErrNoHelm) {
		skipOrFail(t, err.Error())
	}
	require.NoError(t, err, "helm template")

	require.NoError(t, cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}))
	r := chartRelease{namespace: namespace}
	for _, obj := range objs {
		switch obj.GetKind() {
		case "Issuer":
			r.issuers = append(r.issuers, obj.GetName())
		case "Certificate":
			crt := &cmapi.Certificate{}
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, crt))
			if crt.Spec.IsCA {
				r.caCert = crt
			} else {
				r.servingCert = crt
			}
		case "Deployment":
			volumes, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "volumes")
			for _, v := range volumes {
				if name, _, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName"); name != "" && v.(map[string]any)["name"] == "tls" {
					r.mountedTLS = name
				}
			}
		case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
			webhooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
			for _, w := range webhooks {
				name, _, _ := unstructured.NestedString(w.(map[string]any), "clientConfig", "service", "name")
				ns, _, _ := unstructured.NestedString(w.(map[string]any), "clientConfig", "service", "namespace")
				r.serviceNames = append(r.serviceNames, name+"."+ns+".svc")
			}
			r.configs = append(r.configs, obj)
		default:
			continue
		}
		require.NoError(t, cp.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj),
			client.FieldOwner("certmanager-test"), client.ForceOwnership), "%s %s", obj.GetKind(), obj.GetName())
	}
	t.Cleanup(func() {
		for _, c := range r.configs {
			if err := cp.Client.Delete(context.Background(), c); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting %s %s: %v", c.GetObjectKind().GroupVersionKind().Kind, c.GetName(), err)
			}
		}
	})
	require.NotNil(t, r.caCert, "the chart renders no CA Certificate")
	require.NotNil(t, r.servingCert, "the chart renders no serving Certificate")
	require.Len(t, r.issuers, 2, "the chart's Issuers")
	require.NotEmpty(t, r.mountedTLS, "the webhook Deployment mounts no tls Secret")
	require.Len(t, r.configs, 2, "the chart's webhook configurations")
	return r
}

// waitReady waits for the Ready condition of a Certificate, Issuer or
// ClusterIssuer to be True and returns its reason and message.
func waitReady(ctx context.Context, t *testing.T, obj client.Object) {
	t.Helper()
	what := fmt.Sprintf("%T %s to be Ready", obj, client.ObjectKeyFromObject(obj))
	require.NoError(t, framework.Poll(ctx, 200*time.Millisecond, 90*time.Second, what, func(ctx context.Context) error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		reason, message, status := readyCondition(obj)
		if status != cmmeta.ConditionTrue {
			return fmt.Errorf("Ready=%q reason %q: %s", status, reason, message)
		}
		return nil
	}), "cert-manager log:\n%s", cm.Log())
}

func readyCondition(obj client.Object) (reason, message string, status cmmeta.ConditionStatus) {
	switch o := obj.(type) {
	case *cmapi.Certificate:
		for _, c := range o.Status.Conditions {
			if c.Type == cmapi.CertificateConditionReady {
				return c.Reason, c.Message, c.Status
			}
		}
	case cmapi.GenericIssuer:
		for _, c := range o.GetStatus().Conditions {
			if c.Type == cmapi.IssuerConditionReady {
				return c.Reason, c.Message, c.Status
			}
		}
	}
	return "", "", ""
}

// issued waits for a Secret with tls.crt, tls.key and ca.crt, checks that
// the key matches the certificate, and returns the Secret and its leaf.
func issued(ctx context.Context, t *testing.T, namespace, name string, notSerial string) (*corev1.Secret, *x509.Certificate) {
	t.Helper()
	secret := &corev1.Secret{}
	var leaf *x509.Certificate
	what := fmt.Sprintf("cert-manager to issue the Secret %s/%s", namespace, name)
	if notSerial != "" {
		what += " with a serial other than " + notSerial
	}
	require.NoError(t, framework.Poll(ctx, 200*time.Millisecond, 90*time.Second, what, func(ctx context.Context) error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
			return err
		}
		for _, key := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "ca.crt"} {
			if len(secret.Data[key]) == 0 {
				return fmt.Errorf("no %s yet", key)
			}
		}
		pair, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
		if err != nil {
			return fmt.Errorf("tls.crt and tls.key: %w", err)
		}
		if leaf = pair.Leaf; leaf.SerialNumber.String() == notSerial {
			return fmt.Errorf("still serial %s", notSerial)
		}
		return nil
	}), "cert-manager log:\n%s", cm.Log())
	return secret, leaf
}

func parsePEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(data)
	require.NotNil(t, block, "no PEM block in %q", data)
	assert.Empty(t, bytes.TrimSpace(rest), "more than one PEM block")
	crt, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return crt
}

// waitCABundle waits until every webhook of the release's configurations has
// caBundle == want.
func waitCABundle(ctx context.Context, t *testing.T, r chartRelease, want []byte) {
	t.Helper()
	require.NoError(t, framework.Poll(ctx, 200*time.Millisecond, 60*time.Second, "the cainjector to write the CA into both webhook configurations", func(ctx context.Context) error {
		for _, c := range r.configs {
			var bundles [][]byte
			switch c.GetObjectKind().GroupVersionKind().Kind {
			case "ValidatingWebhookConfiguration":
				got := &admissionregistrationv1.ValidatingWebhookConfiguration{}
				if err := k8s.Get(ctx, client.ObjectKey{Name: c.GetName()}, got); err != nil {
					return err
				}
				for _, w := range got.Webhooks {
					bundles = append(bundles, w.ClientConfig.CABundle)
				}
			case "MutatingWebhookConfiguration":
				got := &admissionregistrationv1.MutatingWebhookConfiguration{}
				if err := k8s.Get(ctx, client.ObjectKey{Name: c.GetName()}, got); err != nil {
					return err
				}
				for _, w := range got.Webhooks {
					bundles = append(bundles, w.ClientConfig.CABundle)
				}
			}
			if len(bundles) == 0 {
				return fmt.Errorf("%s %s has no webhooks", c.GetObjectKind().GroupVersionKind().Kind, c.GetName())
			}
			for i, b := range bundles {
				if !bytes.Equal(b, want) {
					return fmt.Errorf("%s %s webhook %d: caBundle is %d bytes, not the CA", c.GetObjectKind().GroupVersionKind().Kind, c.GetName(), i, len(b))
				}
			}
		}
		return nil
	}), "cert-manager log:\n%s", cm.Log())
}

// TestChartCertManagerMode applies the chart's Issuers, Certificates and
// webhook configurations in cert-manager mode and checks every step of that
// path with the real controllers: the self-signed Issuer issues the CA, the
// CA Issuer becomes ready from it and issues the serving certificate into the
// Secret the webhook Deployment mounts, valid for the webhook's Service, and
// the cainjector writes the CA into both webhook configurations.
func TestChartCertManagerMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := installChart(ctx, t, "sg", "sg-cert-manager")

	for _, name := range r.issuers {
		waitReady(ctx, t, &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Namespace: r.namespace, Name: name}})
	}
	waitReady(ctx, t, &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: r.namespace, Name: r.caCert.Name}})
	waitReady(ctx, t, &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: r.namespace, Name: r.servingCert.Name}})

	caSecret, ca := issued(ctx, t, r.namespace, r.caCert.Spec.SecretName, "")
	assert.True(t, ca.IsCA, "the CA certificate is not a CA")
	assert.Equal(t, r.caCert.Spec.CommonName, ca.Subject.CommonName)
	assert.NoError(t, ca.CheckSignatureFrom(ca), "the CA is not self-signed")

	assert.Equal(t, r.servingCert.Spec.SecretName, r.mountedTLS, "the serving Certificate's Secret is not the one the Deployment mounts")
	secret, leaf := issued(ctx, t, r.namespace, r.mountedTLS, "")
	assert.Equal(t, caSecret.Data[corev1.TLSCertKey], secret.Data["ca.crt"], "ca.crt of the serving Secret is not the release's CA")
	assert.ElementsMatch(t, r.servingCert.Spec.DNSNames, leaf.DNSNames)
	assert.Contains(t, leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	assert.False(t, leaf.IsCA)
	roots := x509.NewCertPool()
	roots.AddCert(parsePEM(t, caSecret.Data[corev1.TLSCertKey]))
	require.NotEmpty(t, r.serviceNames)
	for _, dnsName := range r.serviceNames {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: dnsName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		assert.NoError(t, err, "the serving certificate for the API server's call to %s", dnsName)
	}

	waitCABundle(ctx, t, r, caSecret.Data[corev1.TLSCertKey])

	// What an operator's monitoring sees: the controller's metrics report
	// the serving certificate ready.
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	ready := fmt.Sprintf(`certmanager_certificate_ready_status{condition="True",issuer_group="cert-manager.io",issuer_kind="Issuer",issuer_name=%q,name=%q,namespace=%q} 1`,
		r.servingCert.Spec.IssuerRef.Name, r.servingCert.Name, r.namespace)
	require.NoError(t, framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the metrics to report "+ready, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		var series []string
		for _, line := range strings.Split(string(body), "\n") {
			if line == ready {
				return nil
			}
			if strings.HasPrefix(line, "certmanager_certificate_ready_status{") {
				series = append(series, line)
			}
		}
		return fmt.Errorf("/metrics has: %s", strings.Join(series, "; "))
	}))
}

// TestServingSecretReissued deletes the Secret the webhook mounts: cert-manager
// issues it again (a new certificate from the same CA), and the caBundle
// stays the CA.
func TestServingSecretReissued(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := installChart(ctx, t, "sg2", "sg-reissue")
	caSecret, _ := issued(ctx, t, r.namespace, r.caCert.Spec.SecretName, "")
	first, leaf := issued(ctx, t, r.namespace, r.mountedTLS, "")
	waitCABundle(ctx, t, r, caSecret.Data[corev1.TLSCertKey])

	require.NoError(t, k8s.Delete(ctx, first))
	again, newLeaf := issued(ctx, t, r.namespace, r.mountedTLS, leaf.SerialNumber.String())
	assert.NotEqual(t, first.UID, again.UID)
	assert.Equal(t, caSecret.Data[corev1.TLSCertKey], again.Data["ca.crt"])
	roots := x509.NewCertPool()
	roots.AddCert(parsePEM(t, caSecret.Data[corev1.TLSCertKey]))
	_, err := newLeaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: r.serviceNames[0], KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	assert.NoError(t, err)
	waitCABundle(ctx, t, r, caSecret.Data[corev1.TLSCertKey])
}

// TestIssuerConditions holds the issuers and clusterissuers controllers to
// the Ready condition they report, which is what a user reads with
// `kubectl get issuers` when the chart's certificates do not arrive.
func TestIssuerConditions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns = "issuers"
	require.NoError(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))

	// A CA for the CA ClusterIssuer, in the cluster resource namespace
	// (kube-system), issued by a self-signed ClusterIssuer.
	selfSigned := &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "selfsigned"},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}},
	}
	require.NoError(t, k8s.Create(ctx, selfSigned))
	caCert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cluster-ca"},
		Spec: cmapi.CertificateSpec{
			IsCA: true, CommonName: "cluster-ca", SecretName: "cluster-ca",
			IssuerRef: cmmeta.IssuerReference{Group: "cert-manager.io", Kind: "ClusterIssuer", Name: "selfsigned"},
		},
	}
	require.NoError(t, k8s.Create(ctx, caCert))
	waitReady(ctx, t, caCert)

	tests := []struct {
		name        string
		issuer      client.Object
		wantStatus  cmmeta.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		{
			name:   "self-signed ClusterIssuer",
			issuer: selfSigned, wantStatus: cmmeta.ConditionTrue, wantReason: "IsReady", wantMessage: "",
		},
		{
			name: "CA ClusterIssuer with its Secret in the cluster resource namespace",
			issuer: &cmapi.ClusterIssuer{
				ObjectMeta: metav1.ObjectMeta{Name: "cluster-ca"},
				Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "cluster-ca"}}},
			},
			wantStatus: cmmeta.ConditionTrue, wantReason: "KeyPairVerified", wantMessage: "Signing CA verified",
		},
		{
			name: "CA Issuer whose Secret does not exist",
			issuer: &cmapi.Issuer{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missing-ca"},
				Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "missing"}}},
			},
			wantStatus: cmmeta.ConditionFalse, wantReason: "ErrGetKeyPair",
			wantMessage: `Error getting keypair for CA issuer: secrets "missing" not found`,
		},
		{
			name: "CA Issuer whose Secret is not a CA",
			issuer: &cmapi.Issuer{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "not-a-ca"},
				Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: "not-a-ca"}}},
			},
			wantStatus: cmmeta.ConditionFalse, wantReason: "ErrInvalidKeyPair",
			wantMessage: "Error getting keypair for CA issuer: certificate is not a CA",
		},
	}
	// The "not a CA" Secret: a leaf issued by the self-signed ClusterIssuer.
	leaf := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "not-a-ca"},
		Spec: cmapi.CertificateSpec{
			CommonName: "not-a-ca", DNSNames: []string{"not-a-ca.example"}, SecretName: "not-a-ca",
			IssuerRef: cmmeta.IssuerReference{Group: "cert-manager.io", Kind: "ClusterIssuer", Name: "selfsigned"},
		},
	}
	require.NoError(t, k8s.Create(ctx, leaf))
	waitReady(ctx, t, leaf)

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.issuer.GetResourceVersion() == "" {
				require.NoError(t, k8s.Create(ctx, tc.issuer))
			}
			var reason, message string
			var status cmmeta.ConditionStatus
			err := framework.Poll(ctx, 200*time.Millisecond, 60*time.Second, "the Ready condition", func(ctx context.Context) error {
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.issuer), tc.issuer); err != nil {
					return err
				}
				if reason, message, status = readyCondition(tc.issuer); status != tc.wantStatus {
					return fmt.Errorf("Ready=%q reason %q: %s", status, reason, message)
				}
				return nil
			})
			require.NoError(t, err, "cert-manager log:\n%s", cm.Log())
			assert.Equal(t, tc.wantReason, reason)
			assert.Equal(t, tc.wantMessage, message)
		})
	}
}
