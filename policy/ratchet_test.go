package policy

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRatchet(t *testing.T) {
	dep := func(tweak func(*corev1.Pod), meta func(*metav1.ObjectMeta)) *appsv1.Deployment {
		d := workloads(tweakPod(all(podProfile(runtimeDefault()), tweak)))["Deployment"].(*appsv1.Deployment)
		if meta != nil {
			meta(&d.ObjectMeta)
		}
		return d
	}
	update := func(newObj, oldObj *appsv1.Deployment) Request {
		r := create(newObj, namespace("enforce"))
		r.Operation, r.OldObject = admissionv1.Update, oldObj
		return r
	}
	sidecarUnconfined := containerProfile(1, unconfined())
	appUnconfined := containerProfile(0, unconfined())
	const sidecarMsg = `spec.template.spec.containers[1].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`
	runCases(t, []evalCase{
		{
			name:         "a label change on a non-compliant Deployment is admitted with a warning",
			req:          update(dep(sidecarUnconfined, func(m *metav1.ObjectMeta) { m.Labels = map[string]string{"v": "2"} }), dep(sidecarUnconfined, nil)),
			wantWarnings: []string{sidecarMsg + " [already present before this update, so not denied]"},
			wantAllowed:  true,
		},
		{
			name:         "removing a finalizer is admitted",
			req:          update(dep(sidecarUnconfined, nil), dep(sidecarUnconfined, func(m *metav1.ObjectMeta) { m.Finalizers = []string{"example.com/cleanup"} })),
			wantWarnings: []string{sidecarMsg + " [already present before this update, so not denied]"},
			wantAllowed:  true,
		},
		{
			name: "reordering containers keeps the identity (by name, not index)",
			req: update(dep(func(p *corev1.Pod) {
				p.Spec.Containers[0], p.Spec.Containers[1] = p.Spec.Containers[1], p.Spec.Containers[0]
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: unconfined()}
			}, nil), dep(sidecarUnconfined, nil)),
			wantWarnings: []string{`spec.template.spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault [already present before this update, so not denied]`},
			wantAllowed:  true,
		},
		{
			name:           "a new violation is denied, the old one warned",
			req:            update(dep(all(sidecarUnconfined, appUnconfined), nil), dep(sidecarUnconfined, nil)),
			wantViolations: []string{`spec.template.spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
			wantWarnings:   []string{sidecarMsg + " [already present before this update, so not denied]"},
		},
		{
			name:           "a violation moved to another container is new",
			req:            update(dep(appUnconfined, nil), dep(sidecarUnconfined, nil)),
			wantViolations: []string{`spec.template.spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
	})
}

func TestLegacyAnnotations(t *testing.T) {
	withAnnotations := func(p *corev1.Pod) {
		p.Annotations = map[string]string{
			"seccomp.security.alpha.kubernetes.io/pod":               "unconfined",
			"container.seccomp.security.alpha.kubernetes.io/sidecar": "unconfined",
			"container.seccomp.security.alpha.kubernetes.io/app":     "runtime/default",
		}
	}
	runCases(t, []evalCase{
		{
			name:          "unconfined legacy annotations warn, they do not deny",
			req:           create(tweakPod(withAnnotations), namespace("enforce")),
			wantPatches:   `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantWarnings: []string{
				`metadata.annotations[container.seccomp.security.alpha.kubernetes.io/sidecar]: "unconfined" has no effect since Kubernetes 1.27 and Unconfined is forbidden here; remove the annotation (the profile comes from securityContext.seccompProfile)`,
				`metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: "unconfined" has no effect since Kubernetes 1.27 and Unconfined is forbidden here; remove the annotation (the profile comes from securityContext.seccompProfile)`,
			},
			wantAllowed: true,
		},
		{
			name: "in a template the path is the template's",
			req: create(workloads(tweakPod(func(p *corev1.Pod) {
				p.Annotations = map[string]string{"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
			}))["StatefulSet"], namespace("enforce")),
			wantPatches:   `[{"op":"add","path":"/spec/template/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`,
			wantDefaulted: "RuntimeDefault",
			wantWarnings:  []string{`spec.template.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: "unconfined" has no effect since Kubernetes 1.27 and Unconfined is forbidden here; remove the annotation (the profile comes from securityContext.seccompProfile)`},
			wantAllowed:   true,
		},
	})
}
