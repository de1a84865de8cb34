// Package webhook serves seccomp-guard's mutating and validating admission
// webhooks. It is a thin adapter: it decodes the request, looks up the
// namespace and the policy in memory, asks the policy engine, and turns the
// Decision into an AdmissionResponse.
package webhook

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// NamespaceGetter returns what the engine needs of a namespace, from memory.
type NamespaceGetter interface {
	Namespace(ctx context.Context, name string) (policy.Namespace, error)
}

// PolicySource returns the policy currently served.
type PolicySource interface {
	Current() *policy.Policy
}

// Evaluator is what the two webhooks share: where they read the namespace,
// the policy and the nodes from, and where they record each request.
type Evaluator struct {
	Namespaces NamespaceGetter
	Policy     PolicySource
	// Nodes is the node inventory; nil means coverage sees no nodes.
	Nodes policy.NodeView
	// Metrics records every request; nil records nothing.
	Metrics Recorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MutatingHandler answers the mutating webhook: it patches and never denies,
// not even when it fails (Handle).
type MutatingHandler struct{ Evaluator }

// ValidatingHandler answers the validating webhook, which sees the final
// object: denials, warnings and audit annotations.
type ValidatingHandler struct{ Evaluator }

var (
	_ admission.Handler = (*MutatingHandler)(nil)
	_ admission.Handler = (*ValidatingHandler)(nil)
)

// Handle implements admission.Handler. The mutating webhook fails open: its
// failurePolicy is Ignore, and the API server applies a failurePolicy only
// when the call fails, never to an explicit denial. So an internal error or
// a panic here admits the object unpatched, with a warning, and leaves the
// decision to the validating webhook, which fails closed.
func (h *MutatingHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	return h.handle(ctx, req, fullDecode(req))
}

// handle is Handle with the request's objects decoded by objects.
func (h *MutatingHandler) handle(ctx context.Context, req admission.Request, objects objectsFunc) (resp admission.Response) {
	start := time.Now()
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		err := fmt.Errorf("panic: %v", r)
		log.FromContext(ctx).Error(err, "the mutating webhook panicked; admitting the object unpatched", "stack", string(debug.Stack()))
		if h.Metrics != nil {
			h.Metrics.Record("mutate", req.Kind.Kind, string(req.Operation), nil, time.Since(start))
		}
		resp = failOpen(req, err.Error())
	}()
	resp = h.serve(ctx, req, objects, "mutate", false, mutateResponse)
	if !resp.Allowed {
		msg := ""
		if resp.Result != nil {
			msg = resp.Result.Message
		}
		resp = failOpen(req, msg)
	}
	return resp
}

// failOpen admits an object the mutating webhook could not default, with a
// warning that says why.
func failOpen(req admission.Request, cause string) admission.Response {
	resp := admission.Allowed("")
	resp.Warnings = []string{fmt.Sprintf(
		"seccomp-guard's mutating webhook could not default this %s and admitted it unpatched (the validating webhook still decides): %s; see the seccomp-guard webhook's logs",
		strings.ToLower(req.Kind.Kind), cause)}
	return resp
}

// Handle implements admission.Handler.
func (h *ValidatingHandler) Handle(ctx context.Context, req admission.Request) admission.Response {
	return h.handle(ctx, req, fullDecode(req))
}

// handle is Handle with the request's objects decoded by objects.
func (h *ValidatingHandler) handle(ctx context.Context, req admission.Request, objects objectsFunc) admission.Response {
	return h.serve(ctx, req, objects, "validate", true, validateResponse)
}

// objectsFunc returns the object and, on UPDATE, the old object of a request
// of kind k, decoded; on failure, the HTTP status to answer with. The server
// decodes them from the trimmed review (trimmedRequest.objects); Handle, the
// admission.Handler, decodes req.Object and req.OldObject whole (fullDecode).
type objectsFunc func(k *policy.Kind) (obj, old runtime.Object, code int32, err error)

// fullDecode decodes the raw objects of req into the whole typed object.
func fullDecode(req admission.Request) objectsFunc {
	return func(k *policy.Kind) (runtime.Object, runtime.Object, int32, error) {
		obj, err := decode(k.New, req.Object, "object")
		if err != nil {
			return nil, nil, http.StatusBadRequest, err
		}
		var oldObj runtime.Object
		if req.Operation == admissionv1.Update {
			if oldObj, err = decode(k.New, req.OldObject, "oldObject"); err != nil {
				return nil, nil, http.StatusBadRequest, err
			}
		}
		return obj, oldObj, http.StatusOK, nil
	}
}

// serve decides req, answers with respond and records the request under the
// webhook's name. final says whether the webhook sees the object as it will
// be stored (policy.Request.Final).
func (e *Evaluator) serve(ctx context.Context, req admission.Request, objects objectsFunc, webhook string, final bool,
	respond func(*policy.Decision, admission.Request) admission.Response,
) admission.Response {
	start := time.Now()
	resp, d := e.decide(ctx, req, objects, final, respond)
	if e.Metrics != nil {
		e.Metrics.Record(webhook, req.Kind.Kind, string(req.Operation), d, time.Since(start))
	}
	return resp
}

// decide returns the response and the decision to record. A request
// answered without the engine (an operation or a kind seccomp-guard does not
// check) records a decision that carries only why it was skipped; a request
// that could not be decided records nil, an error.
func (e *Evaluator) decide(ctx context.Context, req admission.Request, objects objectsFunc, final bool,
	respond func(*policy.Decision, admission.Request) admission.Response,
) (admission.Response, *policy.Decision) {
	if reason := skipUnread(req); reason != "" {
		return admission.Allowed(reason), &policy.Decision{Skipped: reason}
	}
	in, code, err := e.request(ctx, req, objects)
	if err != nil {
		return admission.Errored(code, err), nil
	}
	if err := ctx.Err(); err != nil {
		// The API server gave up on this call (its timeout, or the client
		// went away): no one reads the answer, so do not compute it.
		return admission.Errored(http.StatusServiceUnavailable, fmt.Errorf("the request ended before seccomp-guard decided: %w", err)), nil
	}
	in.Final = final
	// The stage before the final one is the mutating webhook, which answers
	// with patches alone: it checks no rule, the validating webhook does.
	in.DefaultOnly = !final
	d := policy.Evaluate(e.Policy.Current(), e.Nodes, in)
	return respond(&d, req), &d
}

// skipUnread returns why a request is admitted without reading its object,
// or "".
func skipUnread(req admission.Request) string {
	if reason := policy.SkipOperation(req.Operation); reason != "" {
		return reason
	}
	if _, ok := handledKind(req.Kind); !ok {
		return fmt.Sprintf(
			"seccomp-guard does not handle %s (resource %s); the webhook configuration sends it more than it needs: limit its rules to pods and the workload kinds",
			gvkString(req.Kind), req.Resource.Resource)
	}
	return ""
}

// request decodes the objects of an admission request of a handled kind and
// reads its namespace; on failure it returns the HTTP status to answer with.
func (e *Evaluator) request(ctx context.Context, req admission.Request, objects objectsFunc) (policy.Request, int32, error) {
	k, _ := policy.KindFor(schema.GroupVersionKind(req.Kind))
	obj, oldObj, code, err := objects(k)
	if err != nil {
		return policy.Request{}, code, err
	}
	ns, err := e.Namespaces.Namespace(ctx, req.Namespace)
	if err != nil {
		return policy.Request{}, http.StatusInternalServerError, fmt.Errorf("seccomp-guard could not read namespace %q: %w", req.Namespace, err)
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	return policy.Request{
		Operation:   req.Operation,
		SubResource: req.SubResource,
		Namespace:   ns,
		Username:    req.UserInfo.Username,
		Object:      obj,
		OldObject:   oldObj,
		Now:         now(),
	}, http.StatusOK, nil
}

// mutateResponse patches; it never denies and leaves warnings and the
// decision's audit record to the validating webhook, which sees the final object.
func mutateResponse(d *policy.Decision, _ admission.Request) admission.Response {
	if len(d.Patches) == 0 {
		return admission.Allowed("")
	}
	resp := admission.Allowed("")
	pt := admissionv1.PatchTypeJSONPatch
	patch, err := json.Marshal(d.Patches)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("seccomp-guard could not encode its patch: %w", err))
	}
	resp.Patch, resp.PatchType = patch, &pt
	resp.AuditAnnotations = map[string]string{policy.AuditDefaulted: d.Defaulted}
	return resp
}

func validateResponse(d *policy.Decision, req admission.Request) admission.Response {
	var resp admission.Response
	if d.Allowed() {
		resp = admission.Allowed("")
	} else {
		resp = admission.Denied(d.DenialMessage(req.Kind.Kind, req.Name, req.SubResource))
		resp.Result.Reason = metav1.StatusReasonForbidden
	}
	resp.Warnings = d.ResponseWarnings()
	resp.AuditAnnotations = d.AuditAnnotations
	return resp
}

func decode(newObj func() runtime.Object, raw runtime.RawExtension, which string) (runtime.Object, error) {
	if len(raw.Raw) == 0 {
		return nil, fmt.Errorf("the AdmissionReview request carries no %s; seccomp-guard needs it to decide", which)
	}
	obj := newObj()
	if err := json.Unmarshal(raw.Raw, obj); err != nil {
		return nil, fmt.Errorf("the request's %s does not decode as %T: %w", which, obj, err)
	}
	return obj, nil
}

func gvkString(gvk metav1.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version + "/" + gvk.Kind
	}
	return gvk.Group + "/" + gvk.Version + "/" + gvk.Kind
}
