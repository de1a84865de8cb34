package policy

import (
	"fmt"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// Reason is the stable code of a violation. Codes appear in messages,
// metrics labels and the CLI's JSON output.
type Reason string

// The reason codes of design section 5.
const (
	ReasonUnconfinedForbidden   Reason = "UnconfinedForbidden"
	ReasonInvalidLocalhostPath  Reason = "InvalidLocalhostPath"
	ReasonProfileNotAllowed     Reason = "ProfileNotAllowed"
	ReasonProfileMissing        Reason = "ProfileMissing"
	ReasonProfileInvalid        Reason = "ProfileInvalid"
	ReasonProfileAllowByDefault Reason = "ProfileAllowByDefault"
	ReasonInventoryUnknown      Reason = "InventoryUnknown"
	// ReasonInvalidDefaultProfile: the namespace's default-profile annotation
	// cannot be injected, so the pod is left without a profile.
	ReasonInvalidDefaultProfile Reason = "InvalidDefaultProfile"
	// ReasonPrivilegedForbidden: a privileged container runs with no
	// seccomp filter whatever its profile (privileged.go).
	ReasonPrivilegedForbidden Reason = "PrivilegedForbidden"
	// ReasonProfileNotSet: at the validating stage, the profile is still
	// unset where the mutating webhook would have set it, so the mutating
	// webhook was skipped (evaluate.go).
	ReasonProfileNotSet Reason = "ProfileNotSet"
)

// Violation is one broken rule.
type Violation struct {
	// Reason is the rule's code.
	Reason Reason `json:"reason"`
	// Field is the path of the offending field, e.g.
	// spec.containers[1].securityContext.seccompProfile.type.
	Field string `json:"field"`
	// Message says what is wrong and what to do, without the field path.
	Message string `json:"message"`

	// container and profile identify the violation for the UPDATE ratchet
	// (not its index: reordering containers must not matter).
	container string
	profile   string
}

// String is the message a user sees: "<field>: <message>".
func (v Violation) String() string {
	if v.Field == "" {
		return v.Message
	}
	return v.Field + ": " + v.Message
}

// key identifies a violation across an UPDATE.
func (v Violation) key() violationKey {
	return violationKey{reason: v.Reason, container: v.container, profile: v.profile}
}

type violationKey struct {
	reason    Reason
	container string
	profile   string
}

// Patch is one RFC 6902 JSON patch operation.
type Patch struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Namespace is what the engine needs to know about the object's namespace.
type Namespace struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
}

// Request is one admission request, already decoded.
type Request struct {
	// Operation is CREATE, UPDATE, DELETE or CONNECT.
	Operation admissionv1.Operation
	// SubResource is the subresource of the request ("" for the object itself).
	SubResource string
	// Namespace is the object's namespace.
	Namespace Namespace
	// Username is the authenticated user making the request.
	Username string
	// Object is the new object: *corev1.Pod, *corev1.PodTemplate,
	// *corev1.ReplicationController, *appsv1.Deployment, *appsv1.ReplicaSet,
	// *appsv1.StatefulSet, *appsv1.DaemonSet, *batchv1.Job or *batchv1.CronJob.
	Object runtime.Object
	// OldObject is the stored object on UPDATE.
	OldObject runtime.Object
	// Now decides whether a node's inventory is stale.
	Now time.Time
	// Final is true for the validating webhook: the object is what will be
	// stored, after every mutating webhook. The engine then does not assume
	// that its defaulting happened: in warn and enforce an unset profile
	// where the mutating webhook would have set it means that webhook was
	// skipped: a ProfileNotSet violation when a container is left without a
	// profile, a warning when every container has its own. In audit
	// mode, and when Final is false (the mutating webhook, the CLI), it
	// evaluates the object as its defaulting leaves it.
	Final bool
	// DefaultOnly is true for the mutating webhook, which answers with the
	// patches alone: the engine stops after defaulting and checks no rule
	// (node coverage is the costly one), since the validating webhook checks
	// the final object anyway. Decision.Violations and Warnings stay empty.
	DefaultOnly bool
}

// Decision is the engine's answer.
type Decision struct {
	// Mode is the mode that applied (disabled when skipped for that reason).
	Mode v1alpha1.Mode `json:"mode"`
	// Skipped says why the object was not evaluated; empty when it was.
	Skipped string `json:"skipped,omitempty"`
	// Patches default the object (modes warn and enforce only).
	Patches []Patch `json:"patches,omitempty"`
	// Defaulted is the profile the patches inject, or in audit mode would inject.
	Defaulted string `json:"defaulted,omitempty"`
	// Violations are the broken rules that count against this request (after the ratchet).
	Violations []Violation `json:"violations,omitempty"`
	// Warnings are drift, unknown nodes, pre-existing violations kept by the
	// ratchet, legacy annotations: returned to the user in warn and enforce,
	// recorded in the "warnings" audit annotation in every mode.
	Warnings []string `json:"warnings,omitempty"`
	// AuditAnnotations go into AdmissionResponse.auditAnnotations.
	AuditAnnotations map[string]string `json:"auditAnnotations,omitempty"`

	notDefaulted string // Final stage: what the mutating webhook should have set
}

// Allowed reports whether the request is admitted: everything is, except
// violations in enforce mode.
func (d *Decision) Allowed() bool {
	return d.Mode != v1alpha1.ModeEnforce || len(d.Violations) == 0
}

// Verdict is a one-word summary for metrics and audit: "skipped", "allowed",
// "denied", or in audit and warn mode "would-deny".
func (d *Decision) Verdict() string {
	switch {
	case d.Skipped != "":
		return "skipped"
	case len(d.Violations) == 0:
		return "allowed"
	case d.Mode == v1alpha1.ModeEnforce:
		return "denied"
	default:
		return "would-deny"
	}
}

// ResponseWarnings are the admission warnings to return: in warn mode the
// violations and the warnings, in enforce mode the warnings, in audit mode
// nothing (audit records them in the "warnings" audit annotation).
func (d *Decision) ResponseWarnings() []string {
	if d.Skipped != "" || d.Mode == v1alpha1.ModeAudit || d.Mode == v1alpha1.ModeDisabled {
		if d.Skipped != "" {
			return d.Warnings // only the namespace's own problems, such as an invalid mode label
		}
		return nil
	}
	var out []string
	if d.Mode == v1alpha1.ModeWarn {
		for _, v := range d.Violations {
			out = append(out, v.String())
		}
	}
	return append(out, d.Warnings...)
}

// Messages returns every violation as the user sees it.
func (d *Decision) Messages() []string {
	out := make([]string, 0, len(d.Violations))
	for _, v := range d.Violations {
		out = append(out, v.String())
	}
	return out
}

// DenialMessage is the message admission denies the object with: every
// violation, capped at MaxListed. kind is the object's kind ("Pod",
// "Deployment", lower-cased in the message), name its name ("" for an object
// created with generateName) and subresource the request's subresource ("" for
// the object itself). The API server prefixes it with the webhook's name.
// The webhook and `seccomp-guard audit` share this one definition.
func (d *Decision) DenialMessage(kind, name, subresource string) string {
	if name == "" {
		name = "(generated name)"
	}
	what := fmt.Sprintf("%s %q", strings.ToLower(kind), name)
	if subresource != "" {
		what += " (" + subresource + ")"
	}
	msgs := d.Messages()
	if len(msgs) == 1 {
		return fmt.Sprintf("%s is forbidden by seccomp-guard: %s", what, msgs[0])
	}
	return fmt.Sprintf("%s is forbidden by seccomp-guard (%d violations): %s", what, len(msgs), strings.Join(CapList(msgs), "; "))
}

// Reasons returns the reason codes of the violations, in order, each once.
func (d *Decision) Reasons() []Reason {
	var out []Reason
	seen := map[Reason]bool{}
	for _, v := range d.Violations {
		if !seen[v.Reason] {
			seen[v.Reason] = true
			out = append(out, v.Reason)
		}
	}
	return out
}
