package policy

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

func TestSkips(t *testing.T) {
	bad := func() *corev1.Pod { return tweakPod(podProfile(unconfined())) }
	enforce := namespace("enforce")
	withOp := func(op admissionv1.Operation, sub string) Request {
		r := create(bad(), enforce)
		r.Operation, r.SubResource, r.OldObject = op, sub, bad()
		return r
	}
	exempt := func(s *v1alpha1.ClusterSeccompPolicySpec) {
		s.Exemptions = v1alpha1.Exemptions{
			Namespaces:        []string{"kube-system"},
			Usernames:         []string{"system:serviceaccount:ops:deployer"},
			RuntimeClassNames: []string{"kata"},
		}
	}
	runCases(t, []evalCase{
		{
			name:        "namespace mode disabled",
			req:         create(bad(), namespace("disabled")),
			wantMode:    v1alpha1.ModeDisabled,
			wantSkipped: "namespace mode is disabled",
			wantAllowed: true,
		},
		{
			name:        "no label and the default mode disabled",
			req:         create(bad(), namespace("")),
			wantSkipped: "namespace mode is disabled",
			wantAllowed: true,
		},
		{
			name:        "DELETE",
			req:         withOp(admissionv1.Delete, ""),
			wantSkipped: "operation DELETE does not change seccomp profiles",
			wantAllowed: true,
		},
		{
			name:        "CONNECT",
			req:         withOp(admissionv1.Connect, "exec"),
			wantSkipped: "operation CONNECT does not change seccomp profiles",
			wantAllowed: true,
		},
		{
			name:        "pod status subresource",
			req:         withOp(admissionv1.Update, "status"),
			wantSkipped: `subresource "status" does not carry seccomp profiles`,
			wantAllowed: true,
		},
		{
			name:        "pod binding subresource",
			req:         withOp(admissionv1.Create, "binding"),
			wantSkipped: `subresource "binding" does not carry seccomp profiles`,
			wantAllowed: true,
		},
		{
			name:        "pod UPDATE is never denied: the fields are immutable",
			req:         withOp(admissionv1.Update, ""),
			wantSkipped: "a pod's seccomp profiles are immutable after creation",
			wantAllowed: true,
		},
		{
			name:        "exempt namespace",
			policy:      exempt,
			req:         create(bad(), Namespace{Name: "kube-system", Labels: map[string]string{ModeLabel: "enforce"}}),
			wantSkipped: `namespace "kube-system" is exempt (spec.exemptions.namespaces)`,
			wantAllowed: true,
		},
		{
			name:   "exempt user",
			policy: exempt,
			req: func() Request {
				r := create(bad(), enforce)
				r.Username = "system:serviceaccount:ops:deployer"
				return r
			}(),
			wantSkipped: `user "system:serviceaccount:ops:deployer" is exempt (spec.exemptions.usernames)`,
			wantAllowed: true,
		},
		{
			name:        "exempt runtime class",
			policy:      exempt,
			req:         create(tweakPod(all(podProfile(unconfined()), func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr("kata") })), enforce),
			wantSkipped: `runtime class "kata" is exempt (spec.exemptions.runtimeClassNames)`,
			wantAllowed: true,
		},
		{
			name:           "a runtime class that is not exempt is checked",
			policy:         exempt,
			req:            create(tweakPod(all(podProfile(unconfined()), func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr("gvisor") })), enforce),
			wantViolations: []string{`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
		{
			name:        "Windows pod",
			req:         create(tweakPod(func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: corev1.Windows} }), enforce),
			wantSkipped: "Windows pods cannot use seccomp (spec.os.name is windows)",
			wantAllowed: true,
		},
		{
			name:        "workloads off",
			policy:      func(s *v1alpha1.ClusterSeccompPolicySpec) { s.Workloads = ptr(false) },
			req:         create(workloads(bad())["Deployment"], enforce),
			wantSkipped: "Deployment is a workload and spec.workloads is false",
			wantAllowed: true,
		},
		{
			name:        "ReplicationController without a template",
			req:         create(&corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc"}}, enforce),
			wantSkipped: "ReplicationController has no pod template",
			wantAllowed: true,
		},
		{
			name:        "an object that is not a workload",
			req:         create(&corev1.ConfigMap{}, enforce),
			wantMode:    v1alpha1.ModeDisabled,
			wantSkipped: "object is not a Pod or a workload with a pod template",
			wantAllowed: true,
		},
		{
			name:        "nil object",
			req:         create(nil, enforce),
			wantSkipped: "object is not a Pod or a workload with a pod template",
			wantAllowed: true,
		},
	})
}

func TestMode(t *testing.T) {
	runCases(t, []evalCase{
		{
			name:        "label wins over the default mode",
			policy:      func(s *v1alpha1.ClusterSeccompPolicySpec) { s.DefaultMode = v1alpha1.ModeEnforce },
			req:         create(tweakPod(podProfile(unconfined())), namespace("disabled")),
			wantMode:    v1alpha1.ModeDisabled,
			wantSkipped: "namespace mode is disabled",
			wantAllowed: true,
		},
		{
			name:           "default mode for namespaces without the label",
			policy:         func(s *v1alpha1.ClusterSeccompPolicySpec) { s.DefaultMode = v1alpha1.ModeWarn },
			req:            create(tweakPod(podProfile(unconfined())), namespace("")),
			wantMode:       v1alpha1.ModeWarn,
			wantViolations: []string{`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
			wantAllowed:    true,
		},
		{
			name:           "a label that is not a mode enforces and says so",
			req:            create(tweakPod(podProfile(unconfined())), namespace("off")),
			wantMode:       v1alpha1.ModeEnforce,
			wantViolations: []string{`spec.securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
			wantWarnings:   []string{`namespace "shop": label seccomp-guard.io/mode="off" is not a mode, so the namespace is enforced; set it to one of disabled, audit, warn, enforce`},
		},
	})
}

func TestEphemeralContainersSubresource(t *testing.T) {
	debug := func(name string, sp *corev1.SeccompProfile) corev1.EphemeralContainer {
		ec := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox"}}
		if sp != nil {
			ec.SecurityContext = &corev1.SecurityContext{SeccompProfile: sp}
		}
		return ec
	}
	req := func(oldECs, newECs []corev1.EphemeralContainer) Request {
		// The stored pod itself is non-compliant: that must not matter here.
		oldPod := tweakPod(podProfile(unconfined()))
		oldPod.Spec.EphemeralContainers = oldECs
		newPod := tweakPod(podProfile(unconfined()))
		newPod.Spec.EphemeralContainers = newECs
		r := create(newPod, namespace("enforce"))
		r.Operation, r.SubResource, r.OldObject = admissionv1.Update, "ephemeralcontainers", oldPod
		return r
	}
	runCases(t, []evalCase{
		{
			name:           "kubectl debug with Unconfined is denied",
			req:            req(nil, []corev1.EphemeralContainer{debug("debugger", unconfined())}),
			wantViolations: []string{`spec.ephemeralContainers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
		{
			name:        "kubectl debug without a profile is admitted and not patched",
			req:         req(nil, []corev1.EphemeralContainer{debug("debugger", nil)}),
			wantAllowed: true,
		},
		{
			name:           "only the added ephemeral container counts",
			req:            req([]corev1.EphemeralContainer{debug("old", unconfined())}, []corev1.EphemeralContainer{debug("old", unconfined()), debug("new", unconfined())}),
			wantViolations: []string{`spec.ephemeralContainers[1].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`},
		},
	})
}

func TestSkipOperation(t *testing.T) {
	tests := []struct {
		name string
		op   admissionv1.Operation
		want string
	}{
		{name: "CREATE is evaluated", op: admissionv1.Create, want: ""},
		{name: "UPDATE is evaluated", op: admissionv1.Update, want: ""},
		{name: "DELETE is skipped", op: admissionv1.Delete, want: "operation DELETE does not change seccomp profiles"},
		{name: "CONNECT is skipped", op: admissionv1.Connect, want: "operation CONNECT does not change seccomp profiles"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SkipOperation(tc.op); got != tc.want {
				t.Errorf("SkipOperation(%s) = %q, want %q", tc.op, got, tc.want)
			}
		})
	}
}
