package policy

// Rule: PrivilegedForbidden.
//
// Reads: securityContext.privileged of every container, initContainer and
// ephemeralContainer (of a pod or a workload's pod template), and the
// policy's spec.privileged.
// Allows: privileged unset or false. A privileged container runs with no
// seccomp filter whatever its seccompProfile says (containerd and CRI-O
// skip seccomp for privileged containers), so under spec.privileged Deny
// (the default) privileged: true is a violation, and under Warn a warning.
// A privileged container is never filtered, so it is never reported as
// defaulted: the pod-level default still applies to the pod sandbox and to
// the other containers, and this message says the privileged one runs
// unfiltered. Violations are identified for the UPDATE ratchet by
// (reason, container name).

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// privilegedWarnSuffix ends the warning of a privileged container under spec.privileged Warn.
const privilegedWarnSuffix = " [spec.privileged is Warn, so not denied]"

// checkPrivileged returns the privileged containers: as violations under
// spec.privileged Deny, as warnings under Warn. only, when set (the
// ephemeralcontainers subresource), limits the check to the ephemeral
// containers it accepts.
func checkPrivileged(p *Policy, spec *corev1.PodSpec, specPath *field.Path, only func(string) bool, namespace string) ([]Violation, []string) {
	var vs []Violation
	var ws []string
	firstEphemeral := len(spec.InitContainers) + len(spec.Containers)
	for i, ref := range allContainers(spec, specPath) {
		if only != nil && (i < firstEphemeral || !only(ref.c.Name)) {
			continue
		}
		sc := ref.c.SecurityContext
		if sc == nil || sc.Privileged == nil || !*sc.Privileged {
			continue
		}
		v := Violation{
			Reason:    ReasonPrivilegedForbidden,
			Field:     ref.path.Child("securityContext", "privileged").String(),
			Message:   privilegedMessage(namespace),
			container: ref.c.Name,
		}
		if p.Privileged == v1alpha1.PrivilegedWarn {
			ws = append(ws, v.String()+privilegedWarnSuffix)
			continue
		}
		vs = append(vs, v)
	}
	return vs, ws
}

func privilegedMessage(namespace string) string {
	return fmt.Sprintf("true runs the container with no seccomp filter, whatever its seccompProfile says (the container runtime skips seccomp for privileged containers) (%s); drop privileged: true and add only the capabilities the container needs, or, if namespace %q needs privileged pods, exempt it: add it to spec.exemptions.namespaces of ClusterSeccompPolicy %q, or label it %s=%s",
		ReasonPrivilegedForbidden, namespace, v1alpha1.DefaultPolicyName, ModeLabel, v1alpha1.ModeDisabled)
}
