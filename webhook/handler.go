// Package webhook serves seccomp-guard's mutating and validating admission
// webhooks. It is a thin adapter: it decodes the request, looks up the
// namespace and the policy in memory, asks the policy engine, and turns the
// Decision into an AdmissionResponse.
package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/json"
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

// Handler answers admission requests for one of the two webhooks.
type Handler struct {
	// Mutating selects the mutating webhook (patches) over the validating one
	// (denials, warnings, audit annotations).
	Mutating   bool
	Namespaces NamespaceGetter
	Policy     PolicySource
	// Nodes is the node inventory; nil means coverage sees no nodes.
	Nodes policy.NodeView
	// Metrics records every request; nil records nothing.
	Metrics Recorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ admission.Handler = (*Handler)(nil)

func (h *Handler) name() string {
	if h.Mutating {
		return "mutate"
	}
	return "validate"
}

// Handle implements admission.Handler.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	kind, op := req.Kind.Kind, string(req.Operation)
	resp, d := h.handle(ctx, req)
	if h.Metrics != nil {
		h.Metrics.Record(h.name(), kind, op, d, time.Since(start))
	}
	return resp
}

func (h *Handler) handle(ctx context.Context, req admission.Request) (admission.Response, *policy.Decision) {
	switch req.Operation {
	case admissionv1.Create, admissionv1.Update:
	default:
		return admission.Allowed(fmt.Sprintf("seccomp-guard does not check %s requests", req.Operation)), nil
	}
	newObj, ok := handledKinds[req.Kind]
	if !ok {
		return admission.Allowed(fmt.Sprintf(
			"seccomp-guard does not handle %s (resource %s); the webhook configuration sends it more than it needs: limit its rules to pods and the workload kinds",
			gvkString(req.Kind), req.Resource.Resource)), nil
	}
	obj, err := decode(newObj, req.Object, "object")
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err), nil
	}
	var oldObj runtime.Object
	if req.Operation == admissionv1.Update {
		if oldObj, err = decode(newObj, req.OldObject, "oldObject"); err != nil {
			return admission.Errored(http.StatusBadRequest, err), nil
		}
	}
	nsName := req.Namespace
	ns, err := h.Namespaces.Namespace(ctx, nsName)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("seccomp-guard could not read namespace %q: %w", nsName, err)), nil
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	d := policy.Evaluate(h.Policy.Current(), h.Nodes, policy.Request{
		Operation:   req.Operation,
		SubResource: req.SubResource,
		Namespace:   ns,
		Username:    req.UserInfo.Username,
		Object:      obj,
		OldObject:   oldObj,
		Now:         now(),
		Final:       !h.Mutating,
	})
	if h.Mutating {
		return mutateResponse(&d), &d
	}
	return validateResponse(&d, req), &d
}

// mutateResponse patches; it never denies and leaves warnings and the
// decision's audit record to the validating webhook, which sees the final object.
func mutateResponse(d *policy.Decision) admission.Response {
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
		resp = admission.Denied(denialMessage(d, req))
		resp.Result.Reason = metav1.StatusReasonForbidden
	}
	resp.Warnings = d.ResponseWarnings()
	resp.AuditAnnotations = d.AuditAnnotations
	return resp
}

// denialMessage lists every violation; the API server prefixes it with the
// webhook's name.
func denialMessage(d *policy.Decision, req admission.Request) string {
	name := req.Name
	if name == "" {
		name = "(generated name)"
	}
	what := fmt.Sprintf("%s %q", strings.ToLower(req.Kind.Kind), name)
	if req.SubResource != "" {
		what += " (" + req.SubResource + ")"
	}
	msgs := d.Messages()
	if len(msgs) == 1 {
		return fmt.Sprintf("%s is forbidden by seccomp-guard: %s", what, msgs[0])
	}
	return fmt.Sprintf("%s is forbidden by seccomp-guard (%d violations): %s", what, len(msgs), strings.Join(msgs, "; "))
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
