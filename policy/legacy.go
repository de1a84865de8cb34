package policy

// Rule: legacy seccomp annotations (warning only).
//
// Reads: the pod's (or template's) annotations
// seccomp.security.alpha.kubernetes.io/pod and
// container.seccomp.security.alpha.kubernetes.io/<container>.
// Allows: everything. These annotations have had no effect since Kubernetes
// 1.27; one that says "unconfined" shows an intent the cluster no longer
// honours, so the user is warned, not denied.

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

func legacyAnnotationWarnings(src *podSource) []string {
	var keys []string
	for k, v := range src.podMeta.Annotations {
		if (k == corev1.SeccompPodAnnotationKey || strings.HasPrefix(k, corev1.SeccompContainerAnnotationKeyPrefix)) &&
			v == corev1.SeccompProfileNameUnconfined {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s: %q has no effect since Kubernetes 1.27 and Unconfined is forbidden here; remove the annotation (the profile comes from securityContext.seccompProfile)",
			src.metaPath.Child("annotations").Key(k), corev1.SeccompProfileNameUnconfined))
	}
	return out
}
