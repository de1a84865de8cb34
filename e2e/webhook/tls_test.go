package webhook_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestServingTLS(t *testing.T) {
	t.Run("HTTP/2 is not offered", func(t *testing.T) {
		_, proto, err := wh.ServingSerial()
		require.NoError(t, err)
		assert.Equal(t, "http/1.1", proto, "ALPN must not negotiate h2")
	})

	t.Run("TLS below 1.2 is refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", wh.Port), &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the handshake must fail before verification matters
			MaxVersion:         tls.VersionTLS11,
		})
		if err == nil {
			conn.Close()
		}
		require.Error(t, err)
	})

	t.Run("certificates are replaced while requests flow and no request fails", func(t *testing.T) {
		ctx := context.Background()
		ns := namespace(t, "enforce", nil)
		before, _, err := wh.ServingSerial()
		require.NoError(t, err)

		var sent, failed atomic.Int64
		var firstErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					sent.Add(1)
					if err := k8s.Create(ctx, newPod(ns, "rotation"), client.DryRunAll); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
			}()
		}
		var serial int64
		for range 3 {
			time.Sleep(500 * time.Millisecond)
			serial, err = wh.CA.WriteServingCert(wh.CertDir)
			require.NoError(t, err)
		}
		require.Eventually(t, func() bool {
			got, _, err := wh.ServingSerial()
			return err == nil && got == serial
		}, 10*time.Second, 100*time.Millisecond, "the webhook serves the new certificate without a restart")
		time.Sleep(500 * time.Millisecond)
		close(stop)
		wg.Wait()
		assert.NotEqual(t, before, serial)
		assert.Greater(t, sent.Load(), int64(20), "requests flowed during the rotation")
		assert.Zero(t, failed.Load(), "failed requests during rotation; first: %v", firstErr.Load())
	})
}
