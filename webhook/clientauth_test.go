package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// testCA is a CA that signs certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by the CA, for a server
// (127.0.0.1) or a client.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// TestRequireClientCertificates serves the webhook server (Server), as
// newManager configures it, with --client-ca-file: a caller without a
// client certificate, or with one from another CA, is refused during the
// handshake; one whose certificate the CA signed is answered; and the
// readiness check, which dials without a certificate, still passes.
func TestRequireClientCertificates(t *testing.T) {
	dir := t.TempDir()
	servingCA, clientCA, otherCA := newTestCA(t, "serving-ca"), newTestCA(t, "client-ca"), newTestCA(t, "other-ca")
	servingCert, servingKey := servingCA.issue(t, "webhook", x509.ExtKeyUsageServerAuth)
	writeFile(t, dir, "tls.crt", servingCert)
	writeFile(t, dir, "tls.key", servingKey)
	caFile := writeFile(t, dir, "client-ca.crt", clientCA.pem)

	requireClientCert, err := RequireClientCertificates(caFile)
	require.NoError(t, err)
	port := freePort(t)
	server := NewServer(crwebhook.Options{
		Host: "127.0.0.1", Port: port, CertDir: dir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }, requireClientCert},
	})
	server.Register(ValidatePath, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "served") }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	ready := server.StartedChecker()
	probe, err := http.NewRequest(http.MethodGet, "/readyz", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return ready(probe) == nil }, 10*time.Second, 20*time.Millisecond,
		"the readiness check passes while client certificates are required")

	roots := x509.NewCertPool()
	roots.AddCert(servingCA.cert)
	clientCert, clientKey := clientCA.issue(t, "kube-apiserver", x509.ExtKeyUsageClientAuth)
	otherCert, otherKey := otherCA.issue(t, "kube-apiserver", x509.ExtKeyUsageClientAuth)
	tests := []struct {
		name     string
		certPEM  []byte
		keyPEM   []byte
		maxTLS   uint16
		wantErr  string
		wantBody string
		// force sends the certificate whatever CAs the server names.
		force bool
	}{
		{name: "no client certificate, TLS 1.3", maxTLS: tls.VersionTLS13, wantErr: "remote error: tls: certificate required"},
		{name: "no client certificate, TLS 1.2", maxTLS: tls.VersionTLS12, wantErr: "remote error: tls: handshake failure"},
		// The server names its CA in the handshake; a client whose certificate
		// no such CA signed sends none.
		{name: "certificate from another CA", certPEM: otherCert, keyPEM: otherKey, maxTLS: tls.VersionTLS13, wantErr: "remote error: tls: certificate required"},
		{name: "certificate from another CA, sent anyway", certPEM: otherCert, keyPEM: otherKey, maxTLS: tls.VersionTLS13, force: true, wantErr: "remote error: tls: unknown certificate authority"},
		{name: "certificate signed by the client CA", certPEM: clientCert, keyPEM: clientKey, maxTLS: tls.VersionTLS13, wantBody: "served"},
		{name: "certificate signed by the client CA, TLS 1.2", certPEM: clientCert, keyPEM: clientKey, maxTLS: tls.VersionTLS12, wantBody: "served"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: roots, MaxVersion: tc.maxTLS}
			if tc.certPEM != nil {
				pair, err := tls.X509KeyPair(tc.certPEM, tc.keyPEM)
				require.NoError(t, err)
				cfg.Certificates = []tls.Certificate{pair}
				if tc.force {
					cfg.Certificates = nil
					cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
				}
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			resp, err := client.Post(fmt.Sprintf("https://127.0.0.1:%d%s", port, ValidatePath), "application/json", nil)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tc.wantBody, string(body))
		})
	}
}

func TestRequireClientCertificatesBadFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "ca.crt", []byte("not a certificate\n"))
	missing := filepath.Join(dir, "missing.crt")
	tests := []struct {
		name    string
		file    string
		wantErr string
	}{
		{name: "missing file", file: missing, wantErr: "--client-ca-file: open " + missing + ": no such file or directory"},
		{
			name: "no PEM certificate", file: notPEM,
			wantErr: "--client-ca-file " + notPEM + " holds no PEM certificate: give the CA certificate(s) that sign the API server's webhook client certificate",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt, err := RequireClientCertificates(tc.file)
			assert.Nil(t, opt)
			assert.EqualError(t, err, tc.wantErr)
		})
	}
}
