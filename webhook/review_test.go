package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// allowAll admits everything: a malformed review must never get this far.
type allowAll struct{}

func (allowAll) Handle(context.Context, admission.Request) admission.Response {
	return admission.Allowed("reached the handler")
}

// TestMalformedReviews: reviews the API server never sends get a 400 that
// says what is wrong, never allowed: true.
func TestMalformedReviews(t *testing.T) {
	const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`
	const req = `"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","object":`
	tests := []struct {
		name        string
		body        string
		wantCode    int32
		wantMessage string
		wantAllowed bool
	}{
		{name: "null body", body: `null`, wantCode: 400,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the body has apiVersion "" and kind "", not admission.k8s.io/v1 and AdmissionReview; register the webhook with admissionReviewVersions [v1]`},
		{name: "no request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantCode: 400,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the AdmissionReview carries no request`},
		{name: "v1beta1", body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{` + req + pod + `}}`, wantCode: 400,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the body has apiVersion "admission.k8s.io/v1beta1" and kind "AdmissionReview", not admission.k8s.io/v1 and AdmissionReview; register the webhook with admissionReviewVersions [v1]`},
		{name: "another kind", body: `{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{` + req + pod + `}}`, wantCode: 400,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the body has apiVersion "admission.k8s.io/v1" and kind "Pod", not admission.k8s.io/v1 and AdmissionReview; register the webhook with admissionReviewVersions [v1]`},
		{name: "no uid", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{` + strings.Replace(req, `"uid":"u1",`, "", 1) + pod + `}}`, wantCode: 400,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the AdmissionReview's request has no uid`},
		{name: "object kind contradicts request.kind", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{` + req + `{"apiVersion":"apps/v1","kind":"Deployment"}}}`, wantCode: 400,
			wantMessage: `seccomp-guard: malformed AdmissionReview: request.object is apps/v1 Deployment, but request.kind says v1 Pod; the two must name the same kind`},
		{name: "not JSON", body: `{`, wantCode: 400,
			wantMessage: `seccomp-guard: malformed AdmissionReview: the body is not a JSON AdmissionReview: unexpected end of JSON input`},
		{name: "a well-formed review reaches the handler", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{` + req + pod + `}}`,
			wantCode: 200, wantMessage: "reached the handler", wantAllowed: true},
	}
	h := referenceEndpoint(allowAll{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewBufferString(tc.body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var review admissionv1.AdmissionReview
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &review), w.Body.String())
			require.NotNil(t, review.Response)
			assert.Equal(t, tc.wantAllowed, review.Response.Allowed)
			require.NotNil(t, review.Response.Result)
			assert.Equal(t, tc.wantCode, review.Response.Result.Code)
			assert.Equal(t, tc.wantMessage, review.Response.Result.Message)
		})
	}
}

// TestMetricLabelsBounded: invented kinds and operations share one series.
func TestMetricLabelsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for i := range 50 {
		m.Record("validate", fmt.Sprintf("Kind%d", i), fmt.Sprintf("OP%d", i), nil, time.Millisecond)
	}
	m.Record("validate", "Pod", "CREATE", nil, time.Millisecond)
	assert.Equal(t, 2, testutil.CollectAndCount(m.requests), "one series for every invented kind and operation, one for Pod CREATE")
	assert.Equal(t, float64(50), testutil.ToFloat64(m.requests.WithLabelValues("validate", "other", "other", "", "error", "")))
}

// TestInFlightCap: with every slot taken, a review waits, then gets a 429
// with Retry-After;
// once a slot frees, the next one is served.
func TestInFlightCap(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	blocking := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	})
	h := limitInFlightSlots(make(chan struct{}, 1), 50*time.Millisecond, blocking)
	first := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, ValidatePath, nil))
		first <- w.Code
	}()
	<-entered

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, ValidatePath, nil))
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"), "the API server's client retries a 429 that says when")
	var status metav1.Status
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &status))
	assert.Equal(t, metav1.StatusReasonTooManyRequests, status.Reason)
	assert.Equal(t, int32(http.StatusTooManyRequests), status.Code)
	assert.Equal(t, "seccomp-guard: 1 reviews are already in flight on this replica (--max-in-flight); retry after 1s", status.Message)

	close(release)
	assert.Equal(t, http.StatusOK, <-first)
	w = httptest.NewRecorder()
	go func() { <-entered }()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, ValidatePath, nil))
	assert.Equal(t, http.StatusOK, w.Code, "a freed slot serves the next review")
}

// TestEndedRequestIsNotDecided: once the API server gives up on a call, the
// engine does not run; the validating webhook answers with an error, the
// mutating one fails open as on any error.
func TestEndedRequestIsNotDecided(t *testing.T) {
	mutate, validate := newHandlers(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := podRequest(t, "shop", nil)

	resp := validate.Handle(ctx, req)
	assert.False(t, resp.Allowed)
	assert.Equal(t, int32(http.StatusServiceUnavailable), resp.Result.Code)
	assert.Equal(t, "the request ended before seccomp-guard decided: context canceled", resp.Result.Message)

	resp = mutate.Handle(ctx, req)
	assert.True(t, resp.Allowed, "the mutating webhook fails open")
	assert.Empty(t, resp.Patches)
}

// TestReadBody: the body is read in one allocation of its declared length,
// a body shorter than declared is an error, and one without a length (or
// with a length over the limit) is read up to the limit plus a byte, so
// that the caller can refuse it as too large.
func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		length   int64
		want     string
		wantErr  string
		wantSize int
	}{
		{name: "declared length", body: `{"a":1}`, length: 7, want: `{"a":1}`},
		{name: "no declared length", body: `{"a":1}`, length: -1, want: `{"a":1}`},
		{name: "shorter than declared", body: `{"a"`, length: 7, wantErr: "unexpected EOF"},
		{name: "declared over the limit", body: strings.Repeat(" ", maxReviewBytes+10), length: maxReviewBytes + 10, wantSize: maxReviewBytes + 1},
		{name: "undeclared over the limit", body: strings.Repeat(" ", maxReviewBytes+10), length: -1, wantSize: maxReviewBytes + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, ValidatePath, strings.NewReader(tc.body))
			r.ContentLength = tc.length
			got, err := readBody(r)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			if tc.wantSize > 0 {
				assert.Len(t, got, tc.wantSize)
				return
			}
			assert.Equal(t, tc.want, string(got))
		})
	}
}
