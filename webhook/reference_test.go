package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

func intstrFromInt(i int) intstr.IntOrString { return intstr.FromInt(i) }

func authUser(name string) authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: name}
}

func kindsForTest() []policy.Kind { return policy.Kinds() }

// referenceEndpoint is the full-decode path: controller-runtime's
// admission.Webhook behind guardReviews, which decodes the whole review,
// then the handler decodes the whole object (Handle).
func referenceEndpoint(h admission.Handler) http.Handler {
	return guardReviews(&admission.Webhook{Handler: h, RecoverPanic: new(true)})
}

// fastEndpoint is the path the server registers, for a handler of this
// package; nil for any other (the noop floor runs on the full path only).
func fastEndpoint(_ testing.TB, h admission.Handler) http.Handler {
	switch h := h.(type) {
	case *MutatingHandler:
		return NewMutatingEndpoint(h)
	case *ValidatingHandler:
		return NewValidatingEndpoint(h)
	}
	return nil
}

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

// reviewProblem (the reference path's check, readReview's now) says what is wrong with a review body that the API server
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
