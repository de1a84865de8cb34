package policy

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// recordingView: the logging profile, as the agent writes it, on every node.
func recordingView() NodeView {
	m := map[string][]v1alpha1.ProfileStatus{}
	for _, n := range testNodes() {
		m[n.Name] = []v1alpha1.ProfileStatus{{Path: RecordingProfile, SHA256: "1111", Size: 40, Valid: true, DefaultAction: RecordingAction}}
	}
	return viewWith(m, nil)
}

func recordingNamespace(mode string) Namespace {
	ns := namespace(mode)
	ns.Labels[RecordingLabel] = RecordingEnabled
	return ns
}

func annotated(value string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{RecordAnnotation: value} }
}

func TestRecording(t *testing.T) {
	const (
		recordingPatch  = `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"Localhost","localhostProfile":"seccomp-guard/recording.json"}}}]`
		defaultPatch    = `[{"op":"add","path":"/spec/securityContext","value":{"seccompProfile":{"type":"RuntimeDefault"}}}]`
		notAllowedNS    = `metadata.annotations[seccomp-guard.io/record]: "true" asks to record syscalls under the logging profile, which namespace "shop" does not allow (RecordingNotAllowed): recording runs every syscall unfiltered; remove the annotation, or ask a cluster administrator to label the namespace seccomp-guard.io/recording=enabled`
		logNotLabelled  = `spec.securityContext.seccompProfile.localhostProfile: "seccomp-guard/recording.json" is seccomp-guard's logging profile, which lets every syscall through, and namespace "shop" is not labelled seccomp-guard.io/recording=enabled (RecordingNotAllowed); use another profile, or record as docs/recording.md says`
		logNotAnnotated = `spec.securityContext.seccompProfile.localhostProfile: "seccomp-guard/recording.json" is seccomp-guard's logging profile, which lets every syscall through, and the pod is not annotated seccomp-guard.io/record=true (RecordingNotAllowed); use another profile, or record as docs/recording.md says`
	)
	logPod := podProfile(localhost(RecordingProfile))
	dep := func(tweak func(*corev1.Pod)) *appsv1.Deployment {
		return workloads(tweakPod(tweak))["Deployment"].(*appsv1.Deployment)
	}
	runCases(t, []evalCase{
		{
			name:          "an annotated pod in a recording namespace is pointed at the logging profile, which passes although it is allow-by-default",
			view:          recordingView(),
			req:           create(tweakPod(annotated("true")), recordingNamespace("enforce")),
			wantPatches:   recordingPatch,
			wantDefaulted: "localhost/seccomp-guard/recording.json",
			wantAllowed:   true,
		},
		{
			name:        "hybrid mode: the user sets the logging profile, validation admits it",
			view:        recordingView(),
			req:         create(tweakPod(all(annotated("true"), logPod)), recordingNamespace("enforce")),
			wantAllowed: true,
		},
		{
			name:        "the exemption holds with allowedProfiles that do not list the logging profile",
			policy:      func(s *v1alpha1.ClusterSeccompPolicySpec) { s.Localhost.AllowedProfiles = []string{"apps/*"} },
			view:        recordingView(),
			req:         create(tweakPod(all(annotated("true"), logPod)), recordingNamespace("enforce")),
			wantAllowed: true,
		},
		{
			name:           "the annotation in a namespace without the label is refused, and the pod gets the namespace's default",
			view:           recordingView(),
			req:            create(tweakPod(annotated("true")), namespace("enforce")),
			wantPatches:    defaultPatch,
			wantDefaulted:  "RuntimeDefault",
			wantViolations: []string{notAllowedNS},
		},
		{
			name:           "the logging profile with the annotation in a namespace without the label",
			view:           recordingView(),
			req:            create(tweakPod(all(annotated("true"), logPod)), namespace("enforce")),
			wantViolations: []string{notAllowedNS, logNotLabelled},
		},
		{
			name:           "the logging profile without the annotation in a recording namespace",
			view:           recordingView(),
			req:            create(tweakPod(logPod), recordingNamespace("enforce")),
			wantViolations: []string{logNotAnnotated},
		},
		{
			name:           "the logging profile is refused even where node coverage is off",
			policy:         func(s *v1alpha1.ClusterSeccompPolicySpec) { s.Localhost.NodeCoverage = v1alpha1.NodeCoverageOff },
			req:            create(tweakPod(logPod), namespace("enforce")),
			wantViolations: []string{logNotLabelled},
		},
		{
			name:           "a logging profile at another path is allow-by-default even for an annotated pod in a recording namespace",
			view:           viewWith(map[string][]v1alpha1.ProfileStatus{"node-a": {{Path: "mine/log.json", Valid: true, DefaultAction: "SCMP_ACT_LOG"}}}, nil),
			req:            create(tweakPod(all(annotated("true"), podProfile(localhost("mine/log.json")), func(p *corev1.Pod) { p.Spec.NodeName = "node-a" })), recordingNamespace("enforce")),
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: "mine/log.json" lets through every syscall it does not list (defaultAction) on the only node this pod can run on: node-a (SCMP_ACT_LOG) (ProfileAllowByDefault); use a profile whose defaultAction refuses, such as SCMP_ACT_ERRNO, or RuntimeDefault`},
			wantWarnings:   []string{`spec.securityContext.seccompProfile: the pod asks to be recorded, but the pod sets its own profile localhost/mine/log.json, under which it is not recorded; remove it to record the pod`},
		},
		{
			name:           "a file at the logging path that allows everything (SCMP_ACT_ALLOW) is not the logging profile",
			view:           viewWith(map[string][]v1alpha1.ProfileStatus{"node-a": {{Path: RecordingProfile, Valid: true, DefaultAction: "SCMP_ACT_ALLOW"}}}, nil),
			req:            create(tweakPod(all(annotated("true"), func(p *corev1.Pod) { p.Spec.NodeName = "node-a" })), recordingNamespace("enforce")),
			wantPatches:    recordingPatch,
			wantDefaulted:  "localhost/seccomp-guard/recording.json",
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: "seccomp-guard/recording.json" lets through every syscall it does not list (defaultAction) on the only node this pod can run on: node-a (SCMP_ACT_ALLOW) (ProfileAllowByDefault); use a profile whose defaultAction refuses, such as SCMP_ACT_ERRNO, or RuntimeDefault`},
		},
		{
			name:           "the logging profile must be on the nodes: missing on node-a",
			view:           viewWith(map[string][]v1alpha1.ProfileStatus{"node-a": nil}, nil),
			req:            create(tweakPod(all(annotated("true"), func(p *corev1.Pod) { p.Spec.NodeName = "node-a" })), recordingNamespace("enforce")),
			wantPatches:    recordingPatch,
			wantDefaulted:  "localhost/seccomp-guard/recording.json",
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: "seccomp-guard/recording.json" is missing on the only node this pod can run on: node-a (ProfileMissing); the seccomp-guard agent writes the logging profile where recording is enabled (chart value agent.recording.enabled); enable it, or keep the pod off those nodes with a nodeSelector or node affinity`},
		},
		{
			name:          "a container with its own profile is not recorded: warned",
			view:          recordingView(),
			req:           create(tweakPod(all(annotated("true"), containerProfile(1, runtimeDefault()))), recordingNamespace("enforce")),
			wantPatches:   recordingPatch,
			wantDefaulted: "localhost/seccomp-guard/recording.json",
			wantWarnings:  []string{`spec.containers[1].securityContext.seccompProfile: the pod asks to be recorded, but container "sidecar" sets its own profile RuntimeDefault, under which it is not recorded; remove it to record container "sidecar"`},
			wantAllowed:   true,
		},
		{
			name:          "an annotation value other than true records nothing and says so",
			view:          recordingView(),
			req:           create(tweakPod(annotated("yes")), recordingNamespace("enforce")),
			wantPatches:   defaultPatch,
			wantDefaulted: "RuntimeDefault",
			wantWarnings:  []string{`metadata.annotations[seccomp-guard.io/record]: "yes" is neither "true" nor "false", so nothing is recorded; set it to "true" to record the pod's syscalls`},
			wantAllowed:   true,
		},
		{
			name:          "a Deployment's template annotation records its pods",
			view:          recordingView(),
			req:           create(dep(annotated("true")), recordingNamespace("enforce")),
			wantPatches:   `[{"op":"add","path":"/spec/template/spec/securityContext","value":{"seccompProfile":{"type":"Localhost","localhostProfile":"seccomp-guard/recording.json"}}}]`,
			wantDefaulted: "localhost/seccomp-guard/recording.json",
			wantAllowed:   true,
		},
		{
			name:           "a Deployment's template annotation without the label",
			view:           recordingView(),
			req:            create(dep(all(annotated("true"), logPod)), namespace("enforce")),
			wantViolations: []string{`spec.template.metadata.annotations[seccomp-guard.io/record]: "true" asks to record syscalls under the logging profile, which namespace "shop" does not allow (RecordingNotAllowed): recording runs every syscall unfiltered; remove the annotation, or ask a cluster administrator to label the namespace seccomp-guard.io/recording=enabled`, `spec.template.spec.securityContext.seccompProfile.localhostProfile: "seccomp-guard/recording.json" is seccomp-guard's logging profile, which lets every syscall through, and namespace "shop" is not labelled seccomp-guard.io/recording=enabled (RecordingNotAllowed); use another profile, or record as docs/recording.md says`},
		},
		{
			name: "removing the label stops a recording Deployment's next change, and the old recording is kept as a warning",
			view: recordingView(),
			req: func() Request {
				newDep, oldDep := dep(all(annotated("true"), logPod)), dep(all(annotated("true"), logPod))
				newDep.Spec.Replicas = ptr(int32(3))
				r := create(newDep, namespace("enforce"))
				r.Operation, r.OldObject = admissionv1.Update, oldDep
				return r
			}(),
			wantWarnings: []string{`spec.template.metadata.annotations[seccomp-guard.io/record]: "true" asks to record syscalls under the logging profile, which namespace "shop" does not allow (RecordingNotAllowed): recording runs every syscall unfiltered; remove the annotation, or ask a cluster administrator to label the namespace seccomp-guard.io/recording=enabled [already present before this update, so not denied]`, `spec.template.spec.securityContext.seccompProfile.localhostProfile: "seccomp-guard/recording.json" is seccomp-guard's logging profile, which lets every syscall through, and namespace "shop" is not labelled seccomp-guard.io/recording=enabled (RecordingNotAllowed); use another profile, or record as docs/recording.md says [already present before this update, so not denied]`},
			wantAllowed:  true,
		},
		{
			name:           "warn mode: refused recording is a warning, and the pod gets the default",
			view:           recordingView(),
			req:            create(tweakPod(annotated("true")), namespace("warn")),
			wantPatches:    defaultPatch,
			wantDefaulted:  "RuntimeDefault",
			wantViolations: []string{notAllowedNS},
			wantAllowed:    true,
		},
	})
}
