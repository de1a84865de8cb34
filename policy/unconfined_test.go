package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestUnconfinedForbidden(t *testing.T) {
	enforce := namespace("enforce")
	runCases(t, []evalCase{
		{
			name:        "runtime default everywhere is allowed",
			req:         create(tweakPod(all(podProfile(runtimeDefault()), containerProfile(0, runtimeDefault()))), enforce),
			wantAllowed: true,
		},
		{
			name:           "unconfined at pod level",
			req:            create(tweakPod(podProfile(unconfined())), enforce),
			wantViolations: []string{`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
		{
			name:           "unconfined at pod level even when every container overrides it (the sandbox uses it)",
			req:            create(tweakPod(all(podProfile(unconfined()), containerProfile(0, runtimeDefault()), containerProfile(1, runtimeDefault()))), enforce),
			wantViolations: []string{`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
		{
			name:           "unconfined in the second container, pod defaulted",
			req:            create(tweakPod(containerProfile(1, unconfined())), enforce),
			wantPatches:    `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted:  "RuntimeDefault",
			wantViolations: []string{`spec.containers[1].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
		{
			name: "unconfined in an init container",
			req: create(tweakPod(all(podProfile(runtimeDefault()), func(p *corev1.Pod) {
				p.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: unconfined()}
			})), enforce),
			wantViolations: []string{`spec.initContainers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
		{
			name: "unconfined in an ephemeral container",
			req: create(tweakPod(all(podProfile(runtimeDefault()), func(p *corev1.Pod) {
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: "debugger", SecurityContext: &corev1.SecurityContext{SeccompProfile: unconfined()},
				}}}
			})), enforce),
			wantViolations: []string{`spec.ephemeralContainers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
		{
			name: "every place at once lists every violation",
			req:  create(tweakPod(all(podProfile(unconfined()), containerProfile(0, unconfined()), containerProfile(1, unconfined()))), enforce),
			wantViolations: []string{
				`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`,
				`spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`,
				`spec.containers[1].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`,
			},
		},
		{
			name:           "warn mode admits and warns",
			req:            create(tweakPod(podProfile(unconfined())), namespace("warn")),
			wantViolations: []string{`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
			wantAllowed:    true,
		},
		{
			name:           "audit mode admits",
			req:            create(tweakPod(podProfile(unconfined())), namespace("audit")),
			wantViolations: []string{`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
			wantAllowed:    true,
		},
	})
}
