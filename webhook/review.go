package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

func metav1GroupVersion(gvk metav1.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version
	}
	return gvk.Group + "/" + gvk.Version
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
