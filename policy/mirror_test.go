package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const mirrorUnset = `spec.securityContext.seccompProfile: not set on the mirror pod of a static pod, and seccomp-guard does not default mirror pods (the kubelet runs the static pod from its manifest file, so a default here would show a profile the pod does not run with); containers without a profile of their own run Unconfined unless the kubelet runs with --seccomp-default; set the profile in the static pod's manifest on the node`

func TestMirrorPods(t *testing.T) {
	mirror := func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "3a7c0e6d"} }
	const unconfinedMsg = `spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`
	const suffix = " [a mirror pod: the kubelet runs its static pod anyway, so not denied; fix the static pod's manifest on the node]"
	runCases(t, []evalCase{
		{
			name:         "an unset profile is not defaulted, and warned",
			req:          create(tweakPod(mirror), namespace("enforce")),
			wantWarnings: []string{mirrorUnset},
			wantAllowed:  true,
		},
		{
			name:         "a violation is a warning, never a denial",
			req:          create(tweakPod(all(mirror, podProfile(runtimeDefault()), containerProfile(0, unconfined()))), namespace("enforce")),
			wantWarnings: []string{unconfinedMsg + suffix},
			wantAllowed:  true,
		},
		{
			name:         "a privileged mirror pod is warned",
			req:          create(tweakPod(all(mirror, podProfile(runtimeDefault()), privilegedContainer(0))), namespace("enforce")),
			wantWarnings: []string{`spec.containers[0].securityContext.privileged: true runs the container with no seccomp filter, whatever its seccompProfile says (the container runtime skips seccomp for privileged containers) (PrivilegedForbidden); drop privileged: true and add only the capabilities the container needs, or, if namespace "shop" needs privileged pods, exempt it: add it to spec.exemptions.namespaces of ClusterSeccompPolicy "default", or label it seccomp-guard.io/mode=disabled` + suffix},
			wantAllowed:  true,
		},
		{
			name:        "a compliant mirror pod is admitted silently",
			req:         create(tweakPod(all(mirror, podProfile(runtimeDefault()))), namespace("enforce")),
			wantAllowed: true,
		},
		{
			name:          "the annotation on a Deployment's template does not make it a mirror pod",
			req:           create(workloads(tweakPod(mirror))["Deployment"], namespace("enforce")),
			wantPatches:   `[{"op":"add","path":"/spec/template/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantAllowed:   true,
		},
	})
}
