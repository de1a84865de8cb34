package policy

// Rule: ProfileNotSet.
//
// Reads: at the validating stage (Request.Final), in modes warn and enforce,
// spec.securityContext.seccompProfile of a pod or pod template that
// defaulting.go would have defaulted (needsDefault: not a controller-owned
// workload, not a workload UPDATE that leaves the template alone, not a
// mirror pod), and the seccompProfile of every container; on a workload
// UPDATE, the old template the same way.
// Allows: a set pod-level profile, or every container with its own. An
// unset pod-level profile there means the mutating webhook was skipped (it
// was down or too slow and its failurePolicy is Ignore, or another mutating
// webhook removed the field): when a container has no profile either, it
// would run Unconfined, which is a ProfileNotSet violation; when every
// container has its own, only the sandbox lacks one, which is a warning
// (evaluate.go). A workload UPDATE whose old template had the same gap keeps
// it as a warning (ratchet.go), so an old Deployment can still be scaled.

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// containersWithoutProfile reports whether the pod-level profile of spec is
// unset and some container sets none of its own: a container that would run
// Unconfined unless the kubelet runs with --seccomp-default.
func containersWithoutProfile(spec *corev1.PodSpec) bool {
	if spec.SecurityContext != nil && spec.SecurityContext.SeccompProfile != nil {
		return false
	}
	for _, ref := range allContainers(spec, nil) {
		if sc := ref.c.SecurityContext; sc == nil || sc.SeccompProfile == nil {
			return true
		}
	}
	return false
}

// profileNotSetViolation is the validating stage's ProfileNotSet: the
// profile is unset where the mutating webhook would have set it to sp.
func profileNotSetViolation(src *podSource, sp *corev1.SeccompProfile) *Violation {
	return &Violation{
		Reason: ReasonProfileNotSet,
		Field:  src.specPath.Child("securityContext", "seccompProfile").String(),
		Message: fmt.Sprintf("not set, and seccomp-guard's mutating webhook, which would have set it to %s, was skipped (%s): it was unavailable or too slow and its failurePolicy Ignore let the request through, or another mutating webhook removed the field; containers without a profile of their own would run Unconfined unless the kubelet runs with --seccomp-default; set it in the manifest, or retry when the mutating webhook is available",
			profileString(sp), ReasonProfileNotSet),
	}
}
