package policy

// Rule: defaulting.
//
// Reads: spec.securityContext.seccompProfile of the pod or pod template,
// the namespace annotation seccomp-guard.io/default-profile, the policy's
// spec.defaultProfile and spec.localhost.allowedProfiles, the object's
// ownerReferences, and on UPDATE the old object's pod template.
// Sets: the pod-level seccompProfile, only where it is unset, to the
// namespace annotation ("RuntimeDefault" or "localhost/<path>"), else
// spec.defaultProfile, else RuntimeDefault. Only on CREATE, or on a workload
// UPDATE that changes the pod template (defaulting must never start a
// rollout by itself); never on an object other than a Pod that a controller
// owns (a ReplicaSet of a Deployment, a Job of a CronJob: the owner compares
// templates and would fight the change), nor on a mirror pod (mirror.go).
// Container-level fields are never
// touched. The patch is minimal: it adds securityContext where it is absent,
// else only securityContext/seccompProfile, so fields unknown to this
// version of the Kubernetes API survive.

import (
	"errors"
	"fmt"
	"path"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// defaultProfile returns the profile to inject in a namespace, or a
// violation message when the namespace annotation cannot be injected.
func defaultProfile(p *Policy, ns Namespace) (*corev1.SeccompProfile, string) {
	value, ok := ns.Annotations[DefaultProfileAnnotation]
	if !ok {
		return toSeccompProfile(p.DefaultProfile), ""
	}
	bad := func(why string) (*corev1.SeccompProfile, string) {
		return nil, fmt.Sprintf("not set, and the default of namespace %q cannot be injected: annotation %s=%q %s (%s); set the annotation to RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>, or set spec.securityContext.seccompProfile in the pod yourself",
			ns.Name, DefaultProfileAnnotation, value, why, ReasonInvalidDefaultProfile)
	}
	ref, err := ParseDefaultProfileAnnotation(value)
	if err != nil {
		return bad(err.Error())
	}
	if ref.Type == v1alpha1.ProfileTypeLocalhost && !profileAllowed(p, *ref.LocalhostProfile) {
		return bad(fmt.Sprintf("names a profile that matches none of spec.localhost.allowedProfiles %s", quoteList(p.AllowedProfiles)))
	}
	return toSeccompProfile(ref), ""
}

// ParseDefaultProfileAnnotation reads the value of the namespace annotation
// seccomp-guard.io/default-profile (and of check's
// --namespace-default-profile): "RuntimeDefault" or "localhost/<path>",
// surrounding space ignored. A Localhost path comes back path.Clean'ed. The
// error completes a sentence that starts with the value, e.g. `"x" is
// neither "RuntimeDefault" nor "localhost/<path>"`.
func ParseDefaultProfileAnnotation(value string) (v1alpha1.SeccompProfileRef, error) {
	value = strings.TrimSpace(value)
	switch {
	case value == string(v1alpha1.ProfileTypeRuntimeDefault):
		return v1alpha1.DefaultProfileRef(), nil
	case strings.HasPrefix(value, v1alpha1.LocalhostPrefix):
		lp := strings.TrimPrefix(value, v1alpha1.LocalhostPrefix)
		if problem := localhostPathProblem(lp); problem != "" {
			return v1alpha1.SeccompProfileRef{}, errors.New("names a path that " + problem)
		}
		lp = path.Clean(lp)
		return v1alpha1.SeccompProfileRef{Type: v1alpha1.ProfileTypeLocalhost, LocalhostProfile: &lp}, nil
	case strings.EqualFold(value, "unconfined"):
		return v1alpha1.SeccompProfileRef{}, errors.New("would make pods Unconfined, which is forbidden")
	default:
		return v1alpha1.SeccompProfileRef{}, errors.New(`is neither "RuntimeDefault" nor "localhost/<path>"`)
	}
}

func toSeccompProfile(ref v1alpha1.SeccompProfileRef) *corev1.SeccompProfile {
	if ref.Type == v1alpha1.ProfileTypeLocalhost && ref.LocalhostProfile != nil {
		lp := path.Clean(*ref.LocalhostProfile)
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}
	}
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
}

// profileString is the annotation form of a profile: RuntimeDefault, Unconfined, localhost/<path>.
func profileString(sp *corev1.SeccompProfile) string {
	return v1alpha1.SeccompProfileRef{Type: v1alpha1.ProfileType(sp.Type), LocalhostProfile: sp.LocalhostProfile}.String()
}

// needsDefault reports whether the pod-level profile of this object should be defaulted.
func needsDefault(req *Request, src *podSource) bool {
	if src.spec.SecurityContext != nil && src.spec.SecurityContext.SeccompProfile != nil {
		return false
	}
	if req.SubResource != "" {
		return false
	}
	if !src.isPod && hasControllerOwner(src.meta) {
		return false
	}
	if isMirrorPod(src) {
		return false // mirror.go
	}
	switch req.Operation {
	case admissionv1.Create:
		return true
	case admissionv1.Update:
		old, ok := extractPodSource(req.OldObject)
		if !ok || old.spec == nil {
			return true
		}
		return !equality.Semantic.DeepEqual(old.spec, src.spec) || !equality.Semantic.DeepEqual(old.podMeta, src.podMeta)
	}
	return false
}

// defaultPatches are the JSON patches that set the pod-level profile.
func defaultPatches(src *podSource, sp *corev1.SeccompProfile) []Patch {
	if src.spec.SecurityContext == nil {
		return []Patch{{Op: "add", Path: src.pointer + "/securityContext", Value: map[string]any{"seccompProfile": sp}}}
	}
	return []Patch{{Op: "add", Path: src.pointer + "/securityContext/seccompProfile", Value: sp}}
}

// withPodProfile returns a copy of spec whose pod-level profile is sp; spec itself is not modified.
func withPodProfile(spec *corev1.PodSpec, sp *corev1.SeccompProfile) *corev1.PodSpec {
	out := *spec
	sc := corev1.PodSecurityContext{}
	if spec.SecurityContext != nil {
		sc = *spec.SecurityContext
	}
	sc.SeccompProfile = sp
	out.SecurityContext = &sc
	return &out
}
