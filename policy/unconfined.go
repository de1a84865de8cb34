package policy

// Rule: UnconfinedForbidden.
//
// Reads: spec.securityContext.seccompProfile.type and the
// securityContext.seccompProfile.type of every container, initContainer and
// ephemeralContainer.
// Allows: RuntimeDefault, Localhost, or unset. Unconfined is forbidden
// wherever it is written; at pod level it applies to the pod sandbox as well
// as to every container that sets no profile of its own, so it is reported
// once, at the pod level.

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

func checkUnconfined(places []profilePlace, namespace string) []Violation {
	var out []Violation
	for _, pl := range places {
		if pl.profile.Type != corev1.SeccompProfileTypeUnconfined {
			continue
		}
		out = append(out, Violation{
			Reason: ReasonUnconfinedForbidden,
			Field:  pl.path.Child("type").String(),
			Message: fmt.Sprintf("%q is forbidden in namespace %q (%s); remove it or use RuntimeDefault",
				corev1.SeccompProfileTypeUnconfined, namespace, ReasonUnconfinedForbidden),
			container: pl.container,
			profile:   string(corev1.SeccompProfileTypeUnconfined),
		})
	}
	return out
}
