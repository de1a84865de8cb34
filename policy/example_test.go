package policy_test

import (
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// A pod without a seccomp profile, created in a namespace in enforce mode,
// is admitted with the built-in default: a patch that sets RuntimeDefault.
func ExampleEvaluate() {
	ns := policy.Namespace{Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	d := policy.Evaluate(nil, nil, policy.Request{Operation: admissionv1.Create, Namespace: ns, Object: pod})

	patches, err := json.Marshal(d.Patches)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Verdict(), d.Defaulted)
	fmt.Println(string(patches))
	// Output:
	// allowed RuntimeDefault
	// [{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]
}

// A container that asks for Unconfined is denied in enforce mode, with a
// message that names the field, the rule and the way out.
func ExampleEvaluate_unconfined() {
	ns := policy.Namespace{Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "app", Image: "nginx", SecurityContext: &corev1.SecurityContext{
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
			}}},
		},
	}
	d := policy.Evaluate(nil, nil, policy.Request{Operation: admissionv1.Create, Namespace: ns, Object: pod})

	fmt.Println(d.Verdict())
	for _, v := range d.Violations {
		fmt.Println(v)
	}
	// Output:
	// denied
	// spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault
}
