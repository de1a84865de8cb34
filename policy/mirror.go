package policy

// Rule: mirror pods.
//
// Reads: the pod's annotation kubernetes.io/config.mirror, and its
// pod-level and container-level seccompProfile.
// Allows: everything, with warnings. A mirror pod is the API server's copy
// of a static pod that the kubelet runs from a manifest file on its node,
// whatever admission says: it is never defaulted (the API would show a
// profile the static pod does not run with), and its violations are
// warnings, never a denial (a denial would hide a pod that runs anyway).

import (
	corev1 "k8s.io/api/core/v1"
)

// mirrorSuffix ends each violation of a mirror pod, turned into a warning.
const mirrorSuffix = " [a mirror pod: the kubelet runs its static pod anyway, so not denied; fix the static pod's manifest on the node]"

// isMirrorPod reports whether the object is a kubelet's mirror pod.
func isMirrorPod(src *podSource) bool {
	if !src.isPod {
		return false
	}
	_, ok := src.meta.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}

// mirrorWarnings turns a mirror pod's violations into warnings, and adds one
// when its profile is unset where seccomp-guard would otherwise default it.
func mirrorWarnings(src *podSource, vs []Violation) []string {
	var ws []string
	if containersWithoutProfile(src.spec) {
		ws = append(ws, src.specPath.Child("securityContext", "seccompProfile").String()+
			": not set on the mirror pod of a static pod, and seccomp-guard does not default mirror pods (the kubelet runs the static pod from its manifest file, so a default here would show a profile the pod does not run with); containers without a profile of their own run Unconfined unless the kubelet runs with --seccomp-default; set the profile in the static pod's manifest on the node")
	}
	for _, v := range vs {
		ws = append(ws, v.String()+mirrorSuffix)
	}
	return ws
}
