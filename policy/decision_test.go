package policy

import (
	"go/build"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

func TestDecisionOutputs(t *testing.T) {
	bad := tweakPod(containerProfile(0, unconfined()))
	const msg = `spec.containers[0].securityContext.seccompProfile.type: "Unconfined" is forbidden in namespace "shop" (UnconfinedForbidden); remove it or use RuntimeDefault`
	tests := []struct {
		name         string
		ns           Namespace
		wantVerdict  string
		wantWarnings []string
		wantAudit    map[string]string
	}{
		{
			name:        "enforce denies",
			ns:          namespace("enforce"),
			wantVerdict: "denied",
			wantAudit:   map[string]string{"mode": "enforce", "decision": "denied", "defaulted": "RuntimeDefault", "violations": msg, "policy-generation": "default/1"},
		},
		{
			name:         "warn admits and returns the violation as a warning",
			ns:           namespace("warn"),
			wantVerdict:  "would-deny",
			wantWarnings: []string{msg},
			wantAudit:    map[string]string{"mode": "warn", "decision": "would-deny", "defaulted": "RuntimeDefault", "violations": msg, "policy-generation": "default/1"},
		},
		{
			name:        "audit says nothing to the user and records everything",
			ns:          namespace("audit"),
			wantVerdict: "would-deny",
			wantAudit:   map[string]string{"mode": "audit", "decision": "would-deny", "would-default": "RuntimeDefault", "violations": msg, "policy-generation": "default/1"},
		},
		{
			name:        "disabled records the skip",
			ns:          namespace("disabled"),
			wantVerdict: "skipped",
			wantAudit:   map[string]string{"mode": "disabled", "decision": "skipped", "skipped": "namespace mode is disabled", "policy-generation": "default/1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(compile(t, nil), nil, create(bad, tc.ns))
			assert.Equal(t, tc.wantVerdict, d.Verdict())
			assert.Equal(t, tc.wantWarnings, d.ResponseWarnings())
			assert.Equal(t, tc.wantAudit, d.AuditAnnotations)
		})
	}
}

func TestEvaluateDoesNotModifyTheObject(t *testing.T) {
	pod := basePod()
	before := pod.DeepCopy()
	_ = Evaluate(compile(t, nil), nil, create(pod, namespace("enforce")))
	assert.Equal(t, before, pod)
}

func TestCompile(t *testing.T) {
	t.Run("nil is the built-in default", func(t *testing.T) {
		p, errs := Compile(nil)
		require.Empty(t, errs)
		assert.Equal(t, v1alpha1.ModeDisabled, p.DefaultMode)
		assert.Equal(t, v1alpha1.ProfileTypeRuntimeDefault, p.DefaultProfile.Type)
		assert.Equal(t, v1alpha1.NodeCoverageAll, p.NodeCoverage)
		assert.Equal(t, v1alpha1.UnknownNodesWarn, p.UnknownNodes)
		assert.Equal(t, v1alpha1.DefaultStaleAfter, p.StaleAfter)
		assert.True(t, p.RejectAllowByDefault)
		assert.True(t, p.Workloads)
	})
	tests := []struct {
		name     string
		spec     v1alpha1.ClusterSeccompPolicySpec
		wantErrs []string
	}{
		{
			name: "bad glob",
			spec: v1alpha1.ClusterSeccompPolicySpec{Localhost: v1alpha1.LocalhostPolicy{AllowedProfiles: []string{"ok/*", "bad/[", "/abs/*"}}},
			wantErrs: []string{
				`spec.localhost.allowedProfiles[1]: Invalid value: "bad/[": not a valid glob: use path.Match syntax relative to the kubelet's seccomp root, e.g. "operator/*" or "profiles/*.json"`,
				`spec.localhost.allowedProfiles[2]: Invalid value: "/abs/*": not a valid glob: use path.Match syntax relative to the kubelet's seccomp root, e.g. "operator/*" or "profiles/*.json"`,
			},
		},
		{
			name: "localhost default outside allowedProfiles",
			spec: v1alpha1.ClusterSeccompPolicySpec{
				DefaultProfile: &v1alpha1.SeccompProfileRef{Type: v1alpha1.ProfileTypeLocalhost, LocalhostProfile: ptr("mine/p.json")},
				Localhost:      v1alpha1.LocalhostPolicy{AllowedProfiles: []string{"operator/*"}},
			},
			wantErrs: []string{`spec.defaultProfile.localhostProfile: Invalid value: "mine/p.json": matches none of spec.localhost.allowedProfiles ["operator/*"], so every defaulted pod would be denied; add it there or choose another default`},
		},
		{
			name:     "unknown mode",
			spec:     v1alpha1.ClusterSeccompPolicySpec{DefaultMode: "off"},
			wantErrs: []string{`spec.defaultMode: Unsupported value: "off": supported values: "disabled", "audit", "warn", "enforce"`},
		},
		{
			name:     "localhost default without a path",
			spec:     v1alpha1.ClusterSeccompPolicySpec{DefaultProfile: &v1alpha1.SeccompProfileRef{Type: v1alpha1.ProfileTypeLocalhost}},
			wantErrs: []string{`spec.defaultProfile: Invalid value: "Localhost": localhostProfile is required when type is Localhost`},
		},
		{
			name:     "unconfined default",
			spec:     v1alpha1.ClusterSeccompPolicySpec{DefaultProfile: &v1alpha1.SeccompProfileRef{Type: "Unconfined"}},
			wantErrs: []string{`spec.defaultProfile: Invalid value: "Unconfined": type "Unconfined" is not supported: use RuntimeDefault or Localhost`},
		},
		{
			name:     "bad coverage and unknown nodes and staleAfter",
			spec:     v1alpha1.ClusterSeccompPolicySpec{Localhost: v1alpha1.LocalhostPolicy{NodeCoverage: "Most", UnknownNodes: "Maybe", StaleAfter: &metav1.Duration{}}},
			wantErrs: []string{`spec.localhost.nodeCoverage: Unsupported value: "Most": supported values: "All", "Any", "Off"`, `spec.localhost.unknownNodes: Unsupported value: "Maybe": supported values: "Deny", "Warn", "Allow"`, `spec.localhost.staleAfter: Invalid value: "0s": must be at least 1s, e.g. 5m`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := Compile(&v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: tc.spec})
			assert.Equal(t, tc.wantErrs, errStrings(errs))
		})
	}
}

func TestBrokenGlobsAllowNothing(t *testing.T) {
	p, errs := Compile(&v1alpha1.ClusterSeccompPolicy{Spec: v1alpha1.ClusterSeccompPolicySpec{
		Localhost: v1alpha1.LocalhostPolicy{AllowedProfiles: []string{"bad/["}, NodeCoverage: v1alpha1.NodeCoverageOff},
	}})
	require.Len(t, errs, 1)
	d := Evaluate(p, nil, create(tweakPod(podProfile(localhost("bad/x.json"))), namespace("enforce")))
	assert.Equal(t, []string{`spec.securityContext.seccompProfile.localhostProfile: "bad/x.json" is not allowed in namespace "shop" (ProfileNotAllowed): it matches none of ["bad/["]; use a profile that does, or ask a cluster administrator to add it to spec.localhost.allowedProfiles of ClusterSeccompPolicy "default"`}, d.Messages())
}

func TestFinalStage(t *testing.T) {
	const notSet = `spec.securityContext.seccompProfile: not set, and seccomp-guard's mutating webhook, which would have set it to RuntimeDefault, was skipped (ProfileNotSet): it was unavailable or too slow and its failurePolicy Ignore let the request through, or another mutating webhook removed the field; containers without a profile of their own would run Unconfined unless the kubelet runs with --seccomp-default; set it in the manifest, or retry when the mutating webhook is available`
	const notRun = `spec.securityContext.seccompProfile: not set although seccomp-guard would have set it to RuntimeDefault: its mutating webhook did not run (is it available? its failurePolicy Ignore lets requests through without it); without a profile the containers run Unconfined unless the kubelet runs with --seccomp-default; set it in the manifest`
	everyContainerSet := all(containerProfile(0, runtimeDefault()), containerProfile(1, runtimeDefault()), func(p *corev1.Pod) {
		p.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: runtimeDefault()}
	})
	tests := []struct {
		name          string
		mode          string
		tweak         func(*corev1.Pod)
		wantAllowed   bool
		wantWarnings  []string
		wantDefaulted string
		wantAudit     map[string]string
	}{
		{
			name:      "enforce: an unset profile means the mutating webhook was skipped, and is denied",
			mode:      "enforce",
			wantAudit: map[string]string{"mode": "enforce", "decision": "denied", "not-defaulted": "RuntimeDefault", "violations": notSet, "policy-generation": "default/1"},
		},
		{
			name:         "warn: the same violation, as a warning",
			mode:         "warn",
			wantAllowed:  true,
			wantWarnings: []string{notSet},
			wantAudit:    map[string]string{"mode": "warn", "decision": "would-deny", "not-defaulted": "RuntimeDefault", "violations": notSet, "policy-generation": "default/1"},
		},
		{
			name:         "enforce: every container sets its own profile, so only the sandbox lacks one: a warning",
			mode:         "enforce",
			tweak:        everyContainerSet,
			wantAllowed:  true,
			wantWarnings: []string{notRun},
			wantAudit:    map[string]string{"mode": "enforce", "decision": "allowed", "not-defaulted": "RuntimeDefault", "warnings": notRun, "policy-generation": "default/1"},
		},
		{
			name:          "audit: records what it would default",
			mode:          "audit",
			wantAllowed:   true,
			wantDefaulted: "RuntimeDefault",
			wantAudit:     map[string]string{"mode": "audit", "decision": "allowed", "would-default": "RuntimeDefault", "policy-generation": "default/1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := create(tweakPod(tc.tweak), namespace(tc.mode))
			req.Final = true
			d := Evaluate(compile(t, nil), nil, req)
			assert.Empty(t, d.Patches)
			assert.Equal(t, tc.wantAllowed, d.Allowed())
			assert.Equal(t, tc.wantDefaulted, d.Defaulted)
			assert.Equal(t, tc.wantWarnings, d.ResponseWarnings())
			assert.Equal(t, tc.wantAudit, d.AuditAnnotations)
		})
	}
}

// TestProfileNotSet: the validating stage denies an unset profile only where
// the mutating webhook would have set it.
func TestProfileNotSet(t *testing.T) {
	enforce := namespace("enforce")
	final := func(r Request) Request { r.Final = true; return r }
	dep := func(tweak func(*corev1.Pod)) *appsv1.Deployment {
		return workloads(tweakPod(tweak))["Deployment"].(*appsv1.Deployment)
	}
	update := func(newObj, oldObj runtime.Object) Request {
		r := final(create(newObj, enforce))
		r.Operation, r.OldObject = admissionv1.Update, oldObj
		return r
	}
	const tmplNotSet = `spec.template.spec.securityContext.seccompProfile: not set, and seccomp-guard's mutating webhook, which would have set it to RuntimeDefault, was skipped (ProfileNotSet): it was unavailable or too slow and its failurePolicy Ignore let the request through, or another mutating webhook removed the field; containers without a profile of their own would run Unconfined unless the kubelet runs with --seccomp-default; set it in the manifest, or retry when the mutating webhook is available`
	newImage := func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:2" }
	owned := dep(nil)
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "App", Name: "a", UID: "u", Controller: ptr(true)}}
	runCases(t, []evalCase{
		{
			name:           "a Deployment template",
			req:            final(create(dep(nil), enforce)),
			wantViolations: []string{tmplNotSet},
		},
		{
			name: "a Localhost namespace default is named",
			req: final(create(basePod(), Namespace{Name: "shop", Labels: map[string]string{ModeLabel: "enforce"},
				Annotations: map[string]string{DefaultProfileAnnotation: "localhost/profiles/p.json"}})),
			wantViolations: []string{`spec.securityContext.seccompProfile: not set, and seccomp-guard's mutating webhook, which would have set it to localhost/profiles/p.json, was skipped (ProfileNotSet): it was unavailable or too slow and its failurePolicy Ignore let the request through, or another mutating webhook removed the field; containers without a profile of their own would run Unconfined unless the kubelet runs with --seccomp-default; set it in the manifest, or retry when the mutating webhook is available`},
		},
		{
			name:        "a controller-owned workload is never defaulted, so never denied",
			req:         final(create(owned, enforce)),
			wantAllowed: true,
		},
		{
			name:        "a workload UPDATE that does not change the template is not defaulted, so not denied",
			req:         update(dep(nil), dep(nil)),
			wantAllowed: true,
		},
		{
			name:         "a workload UPDATE of a template that already had no profile ratchets: scaling an old Deployment works",
			req:          update(dep(newImage), dep(nil)),
			wantWarnings: []string{tmplNotSet + " [already present before this update, so not denied]"},
			wantAllowed:  true,
		},
		{
			name:           "a workload UPDATE that removes the profile is denied",
			req:            update(dep(newImage), dep(podProfile(runtimeDefault()))),
			wantViolations: []string{tmplNotSet},
		},
		{
			name: "a mirror pod is never denied",
			req: final(create(tweakPod(func(p *corev1.Pod) {
				p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "abc"}
			}), enforce)),
			wantWarnings: []string{mirrorUnset},
			wantAllowed:  true,
		},
	})
}

func TestSkippedKeepsNamespaceWarnings(t *testing.T) {
	p := compile(t, func(s *v1alpha1.ClusterSeccompPolicySpec) { s.Exemptions.Usernames = []string{"alice"} })
	d := Evaluate(p, nil, create(basePod(), namespace("strict")))
	assert.Equal(t, `user "alice" is exempt (spec.exemptions.usernames)`, d.Skipped)
	assert.Equal(t, []string{`namespace "shop": label seccomp-guard.io/mode="strict" is not a mode, so the namespace is enforced; set it to one of disabled, audit, warn, enforce`}, d.ResponseWarnings())
}

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// TestPolicyIsPure fails the build if policy/ reaches for the API server or logging.
func TestPolicyIsPure(t *testing.T) {
	forbidden := []string{"k8s.io/client-go", "sigs.k8s.io/controller-runtime"}
	seen := map[string]bool{}
	var walk func(string)
	var violations []string
	walk = func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		pkg, err := build.Import(path, ".", 0)
		if err != nil {
			return // standard library packages resolve; missing test-only deps do not matter
		}
		for _, imp := range pkg.Imports {
			for _, f := range forbidden {
				if imp == f || strings.HasPrefix(imp, f+"/") {
					violations = append(violations, path+" imports "+imp)
				}
			}
			if strings.Contains(imp, ".") {
				walk(imp)
			}
		}
	}
	walk("github.com/seccomp-guard/seccomp-guard/policy")
	assert.Empty(t, violations)

	// The engine itself does no I/O, no logging and takes no context.
	self, err := build.Import("github.com/seccomp-guard/seccomp-guard/policy", ".", 0)
	require.NoError(t, err)
	for _, imp := range self.Imports {
		switch imp {
		case "os", "io", "io/fs", "net", "net/http", "log", "log/slog", "context", "k8s.io/klog/v2":
			t.Errorf("policy imports %s: the engine must stay pure", imp)
		}
	}
	assert.Greater(t, len(seen), 5, "the import walk must have found packages")
}

func TestDenialMessage(t *testing.T) {
	v := func(r Reason, f, m string) Violation { return Violation{Reason: r, Field: f, Message: m} }
	many := make([]Violation, MaxListed+2)
	for i := range many {
		many[i] = v(ReasonProfileMissing, "f", "m")
	}
	tests := []struct {
		name, kind, objName, sub string
		vs                       []Violation
		want                     string
		wantReasons              []Reason
	}{
		{name: "one violation, generated name", kind: "Pod", vs: []Violation{v(ReasonUnconfinedForbidden, "spec.x", "bad")},
			want: `pod "(generated name)" is forbidden by seccomp-guard: spec.x: bad`, wantReasons: []Reason{ReasonUnconfinedForbidden}},
		{name: "two violations, subresource", kind: "Pod", objName: "web", sub: "ephemeralcontainers",
			vs:   []Violation{v(ReasonUnconfinedForbidden, "a", "x"), v(ReasonPrivilegedForbidden, "", "y")},
			want: `pod "web" (ephemeralcontainers) is forbidden by seccomp-guard (2 violations): a: x; y`, wantReasons: []Reason{ReasonUnconfinedForbidden, ReasonPrivilegedForbidden}},
		{name: "capped", kind: "Deployment", objName: "d", vs: many,
			want:        `deployment "d" is forbidden by seccomp-guard (22 violations): ` + strings.Repeat("f: m; ", MaxListed) + "and 2 more",
			wantReasons: []Reason{ReasonProfileMissing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decision{Mode: v1alpha1.ModeEnforce, Violations: tt.vs}
			assert.Equal(t, tt.want, d.DenialMessage(tt.kind, tt.objName, tt.sub))
			assert.Equal(t, tt.wantReasons, d.Reasons())
		})
	}
}
