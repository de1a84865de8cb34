package policy

// Rule: scheduling gates.
//
// Reads: on an UPDATE of a pod itself, the old and the new pod's
// spec.schedulingGates.
// Allows: a gated pod is not placed until its last gate is removed, and
// until then an UPDATE may still change its nodeSelector, affinity and
// tolerations, so the nodes coverage was checked against at CREATE may not
// be the ones it can land on. The UPDATE that removes the last gate (the
// old pod had gates, the new one has none) is therefore evaluated like a
// CREATE without defaulting, and ratcheted: only violations that the old
// pod, judged against today's nodes, did not have are denied. Every other
// pod UPDATE is skipped (skip.go). The webhook receives such UPDATEs
// through a webhook of its own whose matchCondition is
// UngatingMatchCondition, so other pod UPDATEs never leave the API server.

import (
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
)

// UngatingMatchCondition is the CEL of a webhook matchCondition that is true
// exactly for the pod UPDATEs that ungates evaluates.
const UngatingMatchCondition = `request.operation == 'UPDATE' && oldObject != null && object != null && ` +
	`has(oldObject.spec.schedulingGates) && size(oldObject.spec.schedulingGates) > 0 && ` +
	`(!has(object.spec.schedulingGates) || size(object.spec.schedulingGates) == 0)`

// ungates reports whether the request is an UPDATE of a pod itself that
// removes its last scheduling gate.
func ungates(req *Request) bool {
	if req.Operation != admissionv1.Update || req.SubResource != "" {
		return false
	}
	oldPod, ok := req.OldObject.(*corev1.Pod)
	if !ok || len(oldPod.Spec.SchedulingGates) == 0 {
		return false
	}
	newPod, ok := req.Object.(*corev1.Pod)
	return ok && len(newPod.Spec.SchedulingGates) == 0
}
