package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Endpoint serves one webhook path: it reads the AdmissionReview, decodes
// it in one pass into the trimmed types (trimmed.go), decides, and writes
// the AdmissionReview response itself. It replaces, per request,
// controller-runtime's admission.Webhook (which decodes the review through
// a scheme, after which the handler decodes the object again, whole); the
// server, TLS, certwatcher and the manager stay controller-runtime's.
type Endpoint struct {
	handle func(context.Context, admission.Request, objectsFunc) admission.Response
}

// NewMutatingEndpoint serves h on the mutating webhook's path.
func NewMutatingEndpoint(h *MutatingHandler) *Endpoint { return &Endpoint{handle: h.handle} }

// NewValidatingEndpoint serves h on the validating webhook's path.
func NewValidatingEndpoint(h *ValidatingHandler) *Endpoint { return &Endpoint{handle: h.handle} }

// ServeHTTP implements http.Handler.
func (ep *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		writeReviewStatus(w, http.StatusBadRequest, "request body is empty")
		return
	}
	body, err := readBody(r)
	_ = r.Body.Close()
	switch {
	case err != nil:
		writeReviewStatus(w, http.StatusBadRequest, fmt.Sprintf("seccomp-guard could not read the request body: %v", err))
		return
	case len(body) > maxReviewBytes:
		writeReviewStatus(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request entity is too large; limit is %d bytes", maxReviewBytes))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		// Checked before the body is decoded: a request we refuse costs no decode.
		writeReviewStatus(w, http.StatusBadRequest, fmt.Sprintf("contentType=%s, expected application/json", ct))
		return
	}
	review, problem := readReview(body)
	if problem != "" {
		writeBadReview(w, problem)
		return
	}
	in := review.Request
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: in.UID, Kind: in.Kind, Resource: in.Resource, SubResource: in.SubResource,
		Name: in.Name, Namespace: in.Namespace, Operation: in.Operation,
		UserInfo: authenticationv1.UserInfo{Username: in.UserInfo.Username},
	}}
	resp := ep.call(r.Context(), req, in)
	resp.UID = req.UID
	if resp.Result == nil {
		resp.Result = &metav1.Status{}
	}
	if resp.Result.Code == 0 {
		resp.Result.Code = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(appendReview(make([]byte, 0, 512), &resp.AdmissionResponse))
}

// call decides, and answers a panic the way controller-runtime's webhook
// does (the mutating handler recovers its own and fails open).
func (ep *Endpoint) call(ctx context.Context, req admission.Request, in *trimmedRequest) (resp admission.Response) {
	defer func() {
		if p := recover(); p != nil {
			log.FromContext(ctx).Error(fmt.Errorf("panic: %v", p), "the webhook panicked", "uid", req.UID, "stack", string(debug.Stack()))
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("panic: %v [recovered]", p))
		}
	}()
	return ep.handle(ctx, req, in.objects)
}

// readReview decodes body and returns what is wrong with it, if anything
// (reviewProblem's checks): not an admission.k8s.io/v1 AdmissionReview, no
// request, no uid, a request.object that is not a JSON object, or one whose
// kind contradicts request.kind. An object with a type error inside is not
// refused here: only a request that uses it fails (trimmedRequest.objects).
func readReview(body []byte) (*trimmedReview, string) {
	r, err := decodeReview(body)
	switch {
	case errors.Is(err, errDuplicateTemplate):
		return nil, err.Error()
	case err != nil:
		return nil, fmt.Sprintf("the body is not a JSON AdmissionReview: %v", err)
	}
	want := admissionv1.SchemeGroupVersion.String()
	switch req := r.Request; {
	case r.APIVersion != want || r.Kind != "AdmissionReview":
		return nil, fmt.Sprintf("the body has apiVersion %q and kind %q, not %s and AdmissionReview; register the webhook with admissionReviewVersions [v1]", r.APIVersion, r.Kind, want)
	case req == nil:
		return nil, "the AdmissionReview carries no request"
	case req.UID == "":
		return nil, "the AdmissionReview's request has no uid"
	case len(req.Object.raw) > 0 && req.Object.raw[0] != '{':
		// As the full path's review check: it reads request.object's kind,
		// which a value that is not an object cannot have. (oldObject is
		// not checked there; a bad one fails only when used: objects.)
		return nil, fmt.Sprintf("request.object is %s, not a JSON object; it must be the object under review", jsonValueKind(req.Object.raw[0]))
	case req.Object.obj != nil && req.Object.obj.Kind != "" &&
		(req.Object.obj.Kind != req.Kind.Kind || req.Object.obj.APIVersion != metav1GroupVersion(req.Kind)):
		return nil, fmt.Sprintf("request.object is %s %s, but request.kind says %s %s; the two must name the same kind", req.Object.obj.APIVersion, req.Object.obj.Kind,
			metav1GroupVersion(req.Kind), req.Kind.Kind)
	}
	return r, ""
}

// jsonValueKind names the kind of JSON value that starts with c.
func jsonValueKind(c byte) string {
	switch c {
	case '"':
		return "a string"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// appendReview appends the JSON of an admission.k8s.io/v1 AdmissionReview
// that carries resp, as encoding/json would write it (without HTML escaping).
func appendReview(b []byte, resp *admissionv1.AdmissionResponse) []byte {
	b = append(b, `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","response":{"uid":`...)
	b = appendString(b, string(resp.UID))
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, resp.Allowed)
	if s := resp.Result; s != nil {
		b = append(b, `,"status":{"metadata":{}`...)
		if s.Status != "" {
			b = append(b, `,"status":`...)
			b = appendString(b, s.Status)
		}
		if s.Message != "" {
			b = append(b, `,"message":`...)
			b = appendString(b, s.Message)
		}
		if s.Reason != "" {
			b = append(b, `,"reason":`...)
			b = appendString(b, string(s.Reason))
		}
		if s.Code != 0 {
			b = append(b, `,"code":`...)
			b = strconv.AppendInt(b, int64(s.Code), 10)
		}
		b = append(b, '}')
	}
	if len(resp.Patch) > 0 {
		b = append(b, `,"patch":"`...)
		b = base64.StdEncoding.AppendEncode(b, resp.Patch)
		b = append(b, '"')
	}
	if resp.PatchType != nil {
		b = append(b, `,"patchType":`...)
		b = appendString(b, string(*resp.PatchType))
	}
	if len(resp.AuditAnnotations) > 0 {
		b = append(b, `,"auditAnnotations":{`...)
		keys := make([]string, 0, len(resp.AuditAnnotations))
		for k := range resp.AuditAnnotations {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, resp.AuditAnnotations[k])
		}
		b = append(b, '}')
	}
	if len(resp.Warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range resp.Warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}}\n"...)
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 as U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON; encoding/json escapes them for
		// JavaScript, which the API server does not need.
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// readBody reads the request body, up to maxReviewBytes+1 bytes: in one
// allocation of the declared length where the client declared one (the API
// server does), else as it comes.
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= maxReviewBytes {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
}
