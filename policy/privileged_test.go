package policy

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

func privileged(sc *corev1.SecurityContext) *corev1.SecurityContext {
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	sc.Privileged = ptr(true)
	return sc
}

func privilegedContainer(i int) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[i].SecurityContext = privileged(p.Spec.Containers[i].SecurityContext)
	}
}

func TestPrivilegedForbidden(t *testing.T) {
	enforce := namespace("enforce")
	msg := func(field string) string {
		return field + `.securityContext.privileged: true runs the container with no seccomp filter, whatever its seccompProfile says (the container runtime skips seccomp for privileged containers) (PrivilegedForbidden); drop privileged: true and add only the capabilities the container needs, or, if namespace "shop" needs privileged pods, exempt it: add it to spec.exemptions.namespaces of ClusterSeccompPolicy "default", or label it seccomp-guard.io/mode=disabled`
	}
	warnPolicy := func(s *v1alpha1.ClusterSeccompPolicySpec) { s.Privileged = v1alpha1.PrivilegedWarn }
	const defaultPatch = `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`
	dep := func(tweak func(*corev1.Pod)) *appsv1.Deployment {
		return workloads(tweakPod(all(podProfile(runtimeDefault()), tweak)))["Deployment"].(*appsv1.Deployment)
	}
	update := func(newObj, oldObj *appsv1.Deployment) Request {
		r := create(newObj, enforce)
		r.Operation, r.OldObject = admissionv1.Update, oldObj
		return r
	}
	runCases(t, []evalCase{
		{
			name: "privileged with RuntimeDefault is denied: the profile does not apply",
			req: create(tweakPod(all(podProfile(runtimeDefault()), func(p *corev1.Pod) {
				p.Spec.Containers[0].SecurityContext = privileged(&corev1.SecurityContext{SeccompProfile: runtimeDefault()})
			})), enforce),
			wantViolations: []string{msg("spec.containers[0]")},
		},
		{
			name:           "privileged without a profile: the pod level is still defaulted for the sandbox and the other containers, and the message says the privileged one runs unfiltered",
			req:            create(tweakPod(privilegedContainer(1)), enforce),
			wantPatches:    defaultPatch,
			wantDefaulted:  "RuntimeDefault",
			wantViolations: []string{msg("spec.containers[1]")},
		},
		{
			name: "privileged init and ephemeral containers",
			req: create(tweakPod(all(podProfile(runtimeDefault()), func(p *corev1.Pod) {
				p.Spec.InitContainers[0].SecurityContext = privileged(nil)
				p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", SecurityContext: privileged(nil)}}}
			})), enforce),
			wantViolations: []string{msg("spec.initContainers[0]"), msg("spec.ephemeralContainers[0]")},
		},
		{
			name: "privileged: false is allowed",
			req: create(tweakPod(all(podProfile(runtimeDefault()), func(p *corev1.Pod) {
				p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(false)}
			})), enforce),
			wantAllowed: true,
		},
		{
			name:           "a workload template",
			req:            create(dep(privilegedContainer(0)), enforce),
			wantViolations: []string{msg("spec.template.spec.containers[0]")},
		},
		{
			name:         "spec.privileged Warn admits with a warning",
			policy:       warnPolicy,
			req:          create(tweakPod(all(podProfile(runtimeDefault()), privilegedContainer(0))), enforce),
			wantWarnings: []string{msg("spec.containers[0]") + " [spec.privileged is Warn, so not denied]"},
			wantAllowed:  true,
		},
		{
			name:           "warn mode admits and warns",
			req:            create(tweakPod(all(podProfile(runtimeDefault()), privilegedContainer(0))), namespace("warn")),
			wantViolations: []string{msg("spec.containers[0]")},
			wantAllowed:    true,
		},
		{
			name:        "an exempt namespace is skipped",
			policy:      func(s *v1alpha1.ClusterSeccompPolicySpec) { s.Exemptions.Namespaces = []string{"shop"} },
			req:         create(tweakPod(privilegedContainer(0)), enforce),
			wantSkipped: `namespace "shop" is exempt (spec.exemptions.namespaces)`,
			wantAllowed: true,
		},
		{
			name:         "UPDATE ratchets: a privileged container the old template had is a warning",
			req:          update(dep(privilegedContainer(0)), dep(privilegedContainer(0))),
			wantWarnings: []string{msg("spec.template.spec.containers[0]") + " [already present before this update, so not denied]"},
			wantAllowed:  true,
		},
		{
			name:           "UPDATE making another container privileged is denied",
			req:            update(dep(all(privilegedContainer(0), privilegedContainer(1))), dep(privilegedContainer(0))),
			wantViolations: []string{msg("spec.template.spec.containers[1]")},
			wantWarnings:   []string{msg("spec.template.spec.containers[0]") + " [already present before this update, so not denied]"},
		},
	})
}

func TestCompilePrivileged(t *testing.T) {
	p, errs := Compile(&v1alpha1.ClusterSeccompPolicy{Spec: v1alpha1.ClusterSeccompPolicySpec{Privileged: "Allow"}})
	if len(errs) != 1 || errs[0].Error() != `spec.privileged: Unsupported value: "Allow": supported values: "Deny", "Warn"` {
		t.Fatalf("errors: %v", errs)
	}
	if p.Privileged != v1alpha1.PrivilegedDeny {
		t.Fatalf("an invalid value must fall back to Deny, got %q", p.Privileged)
	}
	if DefaultPolicy().Privileged != v1alpha1.PrivilegedDeny {
		t.Fatal("the built-in default must be Deny")
	}
}

func TestPrivilegedEphemeralSubresource(t *testing.T) {
	oldPod := tweakPod(all(podProfile(runtimeDefault()), privilegedContainer(0)))
	newPod := oldPod.DeepCopy()
	newPod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", SecurityContext: privileged(nil)}}}
	req := create(newPod, namespace("enforce"))
	req.Operation, req.SubResource, req.OldObject = admissionv1.Update, EphemeralContainersSubresource, oldPod
	d := Evaluate(compile(t, nil), nil, req)
	// Only the ephemeral container it adds: the privileged app container is not this request's doing.
	if got := d.Messages(); len(got) != 1 || got[0] != `spec.ephemeralContainers[0].securityContext.privileged: true runs the container with no seccomp filter, whatever its seccompProfile says (the container runtime skips seccomp for privileged containers) (PrivilegedForbidden); drop privileged: true and add only the capabilities the container needs, or, if namespace "shop" needs privileged pods, exempt it: add it to spec.exemptions.namespaces of ClusterSeccompPolicy "default", or label it seccomp-guard.io/mode=disabled` {
		t.Fatalf("violations: %q", got)
	}
}
