package policy

import (
	"go/build"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		assert.Equal(t, DefaultStaleAfter, p.StaleAfter)
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
			wantErrs: []string{`spec.localhost.nodeCoverage: Unsupported value: "Most": supported values: "All", "Any", "Off"`, `spec.localhost.unknownNodes: Unsupported value: "Maybe": supported values: "Deny", "Warn", "Allow"`, `spec.localhost.staleAfter: Invalid value: "0s": must be positive, e.g. 5m`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := Compile(&v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: tc.spec})
			assert.Equal(t, tc.wantErrs, errStrings(errs))
		})
	}
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
