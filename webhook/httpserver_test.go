package webhook

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// writeServingCert writes a self-signed certificate for 127.0.0.1 as
// tls.crt and tls.key into dir.
func writeServingCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer serves an "ok" handler on /ok through Server and returns its address.
func startServer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeServingCert(t, dir)
	port := freePort(t)
	s := NewServer(crwebhook.Options{Host: "127.0.0.1", Port: port, CertDir: dir})
	s.Register("/ok", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-errc)
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	require.Eventually(t, func() bool { return s.StartedChecker()(nil) == nil }, 10*time.Second, 20*time.Millisecond, "the server starts")
	return addr
}

func dialTLS(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // test server
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestServerLimits proves the webhook server bounds what one connection
// costs: a client that stops sending headers is cut off by the read-header
// timeout (controller-runtime's server waits 32s), and headers over 64 KiB
// are refused (Go's default allows 1 MiB), while a normal request is served.
func TestServerLimits(t *testing.T) {
	addr := startServer(t)

	t.Run("a normal request is served", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test server
		resp, err := client.Get("https://" + addr + "/ok")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "ok", string(body))
	})

	t.Run("headers that stop arriving are cut off", func(t *testing.T) {
		conn := dialTLS(t, addr)
		_, err := io.WriteString(conn, "POST /ok HTTP/1.1\r\nHost: x\r\n")
		require.NoError(t, err)
		start := time.Now()
		// Never finish the headers; the server must close the connection.
		// The deadline only keeps a broken server from hanging the test.
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(ServerReadHeaderTimeout+20*time.Second)))
		_, err = conn.Read(make([]byte, 1))
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the stalled connection open: %v", err)
		assert.ErrorIs(t, err, io.EOF)
		t.Logf("closed after %s", time.Since(start).Round(100*time.Millisecond))
	})

	t.Run("headers over the limit are refused", func(t *testing.T) {
		conn := dialTLS(t, addr)
		req := "GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2*ServerMaxHeaderBytes) + "\r\n\r\n"
		go func() { _, _ = io.WriteString(conn, req) }()
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	})
}
