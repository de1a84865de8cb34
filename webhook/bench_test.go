package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// BenchmarkServeHTTP measures a whole admission round trip inside the
// process: the AdmissionReview is decoded, the pod decoded and evaluated, and
// the response encoded. Compare the "noop" case, a handler that allows
// without looking, as the baseline of the same run (benchstat).
func BenchmarkServeHTTP(b *testing.B) {
	mut, val := newHandlers(prometheus.NewRegistry())
	noop := admission.HandlerFunc(func(context.Context, admission.Request) admission.Response { return admission.Allowed("") })
	unconfined := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	cases := []struct {
		name    string
		handler admission.Handler
		ns      string
		sp      *corev1.SeccompProfile
	}{
		{"noop", noop, "shop", nil},
		{"mutate/unset", mut, "shop", nil},
		{"validate/unset", val, "shop", nil},
		{"validate/unconfined-denied", val, "shop", unconfined},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			req := podRequest(b, tc.ns, tc.sp)
			body, err := json.Marshal(admissionv1.AdmissionReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Request:  &req.AdmissionRequest,
			})
			if err != nil {
				b.Fatal(err)
			}
			wh := &admission.Webhook{Handler: tc.handler}
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				wh.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
