package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// maxReviewBytes bounds the body a review may have: the API server's own
// limit on an object (3 MiB by default in etcd) twice, plus room, as
// controller-runtime's webhook does.
const maxReviewBytes = 7 * 1024 * 1024

// maxReviewReadTime bounds how long reading one review's body may take. The
// API server sends the body at once and waits for the answer at most the
// configuration's timeoutSeconds (5s for the validating webhook, 3s for the
// mutating one), so a body still arriving after 10s is not the API server's.
const maxReviewReadTime = 10 * time.Second

// reviewHeader is the part of an AdmissionReview that says what it is.
type reviewHeader struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID    types.UID               `json:"uid"`
		Kind   metav1.GroupVersionKind `json:"kind"`
		Object *struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		} `json:"object"`
	} `json:"request"`
}

// reviewProblem says what is wrong with a review body that the API server
// would never send, or "": not an admission.k8s.io/v1 AdmissionReview, no
// request, no uid, or an object whose kind contradicts request.kind. Such a
// review is answered with a 400 instead of reaching the engine, where an
// empty review would be skipped and so allowed.
func reviewProblem(body []byte) string {
	var h reviewHeader
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Sprintf("the body is not a JSON AdmissionReview: %v", err)
	}
	want := admissionv1.SchemeGroupVersion.String()
	switch {
	case h.APIVersion != want || h.Kind != "AdmissionReview":
		return fmt.Sprintf("the body has apiVersion %q and kind %q, not %s and AdmissionReview; register the webhook with admissionReviewVersions [v1]", h.APIVersion, h.Kind, want)
	case h.Request == nil:
		return "the AdmissionReview carries no request"
	case h.Request.UID == "":
		return "the AdmissionReview's request has no uid"
	case h.Request.Object != nil && h.Request.Object.Kind != "" &&
		(h.Request.Object.Kind != h.Request.Kind.Kind || h.Request.Object.APIVersion != metav1GroupVersion(h.Request.Kind)):
		return fmt.Sprintf("request.object is %s %s, but request.kind says %s %s; the two must name the same kind", h.Request.Object.APIVersion, h.Request.Object.Kind,
			metav1GroupVersion(h.Request.Kind), h.Request.Kind.Kind)
	}
	return ""
}

func metav1GroupVersion(gvk metav1.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version
	}
	return gvk.Group + "/" + gvk.Version
}

// guardReviews answers a malformed review (reviewProblem) with a 400 in an
// AdmissionReview, as controller-runtime answers the bodies it cannot
// decode, and passes every other request on, body intact.
func guardReviews(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r) // controller-runtime answers "request body is empty"
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
		_ = r.Body.Close()
		if err == nil && len(body) <= maxReviewBytes {
			if problem := reviewProblem(body); problem != "" {
				writeBadReview(w, problem)
				return
			}
		}
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		next.ServeHTTP(w, r)
	})
}

// errReader replays a read error after the bytes that were read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}

func writeBadReview(w http.ResponseWriter, problem string) {
	writeReviewStatus(w, http.StatusBadRequest, "seccomp-guard: malformed AdmissionReview: "+problem)
}

// writeReviewStatus answers with an AdmissionReview that carries an error
// status, as controller-runtime answers the requests it cannot serve.
func writeReviewStatus(w http.ResponseWriter, code int32, message string) {
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: &admissionv1.AdmissionResponse{
			Allowed: false,
			Result:  &metav1.Status{Code: code, Message: message},
		},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

// limitInFlightSlots lets at most cap(slots) reviews be read and decided at
// once, across every handler that shares slots, so that the bodies being
// decoded stay within the webhook's memory limit (each may be up to
// maxReviewBytes). A request waits for a slot while its context lives, at
// most wait; then it gets HTTP 429 with Retry-After: 1. The API server's
// client retries such an answer within the webhook's timeout (client-go's
// rest client honours Retry-After on a 429), so a burst costs a delay; only
// when no slot frees in time does the call fail, and the webhook's
// failurePolicy applies.
func limitInFlightSlots(slots chan struct{}, wait time.Duration, next http.Handler) http.Handler {
	n := cap(slots)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A slot is held while the body is read: a client that sends it
		// slowly must not hold one for longer than any API server would
		// wait for an answer. Not supported by the recorder in tests.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(maxReviewReadTime))
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return
		case <-timer.C:
			writeTooManyRequests(w, fmt.Sprintf(
				"seccomp-guard: %d reviews are already in flight on this replica (--max-in-flight); retry after 1s", n))
			return
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, r)
	})
}

// writeTooManyRequests answers HTTP 429 with Retry-After: 1 and a Status,
// as the API server's own throttling does.
func writeTooManyRequests(w http.ResponseWriter, message string) {
	status := metav1.Status{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   metav1.StatusReasonTooManyRequests,
		Code:     http.StatusTooManyRequests,
		Details:  &metav1.StatusDetails{RetryAfterSeconds: 1},
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(status)
}
