package webhook_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// TestSIGTERMDrainsInFlightRequests starts a second webhook process, sends
// half of a request, delivers SIGTERM, then sends the rest: the request must
// still be answered, and the process must then exit 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	ctx := context.Background()
	bin, err := framework.BuildBinary(t.TempDir())
	require.NoError(t, err)
	second, err := framework.StartWebhook(ctx, cp, bin)
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Stop() })

	pod, err := json.Marshal(newPod("default", "drain"))
	require.NoError(t, err)
	review, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "drain-1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name:     "drain", Namespace: "default", Operation: admissionv1.Create,
			Object: runtime.RawExtension{Raw: pod},
		},
	})
	require.NoError(t, err)

	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", second.Port), &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // a loopback test of shutdown, not of TLS
	})
	require.NoError(t, err)
	defer conn.Close()
	half := len(review) / 2
	_, err = fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(review), review[:half])
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // the server is now reading the body

	require.NoError(t, second.Cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(500 * time.Millisecond) // shutdown has begun: no new connections
	_, err = conn.Write(review[half:])
	require.NoError(t, err, "the in-flight connection must stay open during shutdown")

	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	var got admissionv1.AdmissionReview
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.NotNil(t, got.Response)
	assert.Equal(t, "drain-1", string(got.Response.UID))

	// No second signal: controller-runtime exits 1 on a second one, by design.
	require.NoError(t, second.Wait(20*time.Second), "the webhook exits 0 after draining:\n%s", second.Log())
}
