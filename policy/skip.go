package policy

// Rule: skips. Objects that seccomp-guard admits unchanged, with the reason
// in the "skipped" audit annotation.
//
// Reads: the request's operation and subresource, the namespace, the user,
// spec.exemptions (namespaces, usernames, runtimeClassNames),
// spec.workloads, the pod's spec.runtimeClassName and spec.os.name.
// Skips: DELETE and CONNECT (SkipOperation, which the webhook asks before
// it decodes the object); pod subresources other than ephemeralcontainers
// (status, binding, ...); UPDATE of a pod itself (its seccomp fields are
// immutable, and denying would block label and finalizer changes), except
// the one that removes its last scheduling gate (scheduling_gates.go); exempt
// namespaces, users and runtime classes; Windows pods (the API forbids
// seccomp fields there); workload kinds when spec.workloads is false.

import (
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
)

// EphemeralContainersSubresource is the only pod subresource evaluated.
const EphemeralContainersSubresource = "ephemeralcontainers"

// SkipOperation returns why a request with operation op is not evaluated,
// or "": only CREATE and UPDATE can set seccomp profiles. It needs nothing
// but the operation, so the webhook asks it before decoding anything.
func SkipOperation(op admissionv1.Operation) string {
	switch op {
	case admissionv1.Create, admissionv1.Update:
		return ""
	}
	return fmt.Sprintf("operation %s does not change seccomp profiles", op)
}

// skipReason returns why a request is not evaluated, or "".
func skipReason(p *Policy, req *Request, src *podSource) string {
	if reason := SkipOperation(req.Operation); reason != "" {
		return reason
	}
	if req.SubResource != "" && !(src.isPod && req.SubResource == EphemeralContainersSubresource) {
		return fmt.Sprintf("subresource %q does not carry seccomp profiles", req.SubResource)
	}
	if src.isPod && req.Operation == admissionv1.Update && req.SubResource == "" && !ungates(req) {
		return "a pod's seccomp profiles are immutable after creation"
	}
	if !src.isPod && !p.Workloads {
		return fmt.Sprintf("%s is a workload and spec.workloads is false", src.kind)
	}
	if p.ExemptNamespaces[req.Namespace.Name] {
		return fmt.Sprintf("namespace %q is exempt (spec.exemptions.namespaces)", req.Namespace.Name)
	}
	if req.Username != "" && p.ExemptUsernames[req.Username] {
		return fmt.Sprintf("user %q is exempt (spec.exemptions.usernames)", req.Username)
	}
	if src.spec == nil {
		return fmt.Sprintf("%s has no pod template", src.kind)
	}
	if rc := src.spec.RuntimeClassName; rc != nil && p.ExemptRuntimeClasses[*rc] {
		return fmt.Sprintf("runtime class %q is exempt (spec.exemptions.runtimeClassNames)", *rc)
	}
	if src.spec.OS != nil && src.spec.OS.Name == corev1.Windows {
		return "Windows pods cannot use seccomp (spec.os.name is windows)"
	}
	return ""
}
