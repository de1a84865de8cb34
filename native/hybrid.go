package native

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// LocalhostMatchConditionName names the match condition of WebhookMatchConditions.
const LocalhostMatchConditionName = "references-localhost-profile"

// localhostRefExpr is true when the pod spec s (a CEL expression that is
// never null) sets a Localhost seccompProfile at pod level or in any
// container, init container or ephemeral container.
func localhostRefExpr(s string) string {
	prof := func(x string) string {
		return fmt.Sprintf(`(has(%[1]s.securityContext) && has(%[1]s.securityContext.seccompProfile) && has(%[1]s.securityContext.seccompProfile.type) && string(%[1]s.securityContext.seccompProfile.type) == 'Localhost')`, x)
	}
	parts := []string{prof(s)}
	for _, f := range []string{"containers", "initContainers", "ephemeralContainers"} {
		parts = append(parts, fmt.Sprintf(`(has(%[1]s.%[2]s) && %[1]s.%[2]s.exists(c, %[3]s))`, s, f, prof("c")))
	}
	return "(" + strings.Join(parts, " ||\n ") + ")"
}

// WebhookMatchConditions are the matchConditions of a hybrid install's
// webhook configuration (design section 10): they send the webhook only the
// requests whose object references a Localhost profile anywhere in its pod
// spec (Pod: spec; workloads: the pod template's spec, at the path of
// policy.PodSpecPointer) — at pod level or in a container, init container or
// ephemeral container. Everything else is left to the native policies of
// Build, with no webhook round trip.
//
// Match conditions see object, oldObject and request, not the namespace: a
// Localhost default injected from the namespace's default-profile annotation
// by the native MutatingAdmissionPolicy is in object by the time validating
// webhooks run, so register these on the validating webhook (a mutating
// webhook would run before or alongside the policy and miss it). A request
// without an object (DELETE) does not match.
func WebhookMatchConditions() []admissionregistrationv1.MatchCondition {
	// [spec].exists(s, ...) binds the spec to s (cel.bind is not in the
	// webhook match conditions' environment).
	return []admissionregistrationv1.MatchCondition{{
		Name: LocalhostMatchConditionName,
		Expression: fmt.Sprintf("object != null && [%s].exists(s, s != null && %s)",
			podSpecExpr("object"), localhostRefExpr("s")),
	}}
}
