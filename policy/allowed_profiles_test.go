package policy

import (
	"testing"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

func offCoverage(s *v1alpha1.ClusterSeccompPolicySpec) {
	s.Localhost.NodeCoverage = v1alpha1.NodeCoverageOff
}

func TestProfileNotAllowed(t *testing.T) {
	enforce := namespace("enforce")
	globs := func(g ...string) func(*v1alpha1.ClusterSeccompPolicySpec) {
		return func(s *v1alpha1.ClusterSeccompPolicySpec) {
			offCoverage(s)
			s.Localhost.AllowedProfiles = g
		}
	}
	runCases(t, []evalCase{
		{
			name:        "empty list allows any path",
			policy:      globs(),
			req:         create(tweakPod(podProfile(localhost("anything/at/all.json"))), enforce),
			wantAllowed: true,
		},
		{
			name:        "matching glob",
			policy:      globs("operator/*", "profiles/*.json"),
			req:         create(tweakPod(podProfile(localhost("profiles/audit.json"))), enforce),
			wantAllowed: true,
		},
		{
			name:        "the path is cleaned before matching",
			policy:      globs("profiles/*.json"),
			req:         create(tweakPod(podProfile(localhost("./profiles/audit.json"))), enforce),
			wantAllowed: true,
		},
		{
			name:           "star does not cross a slash",
			policy:         globs("operator/*"),
			req:            create(tweakPod(podProfile(localhost("operator/shop/web.json"))), enforce),
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: "operator/shop/web.json" is not allowed in namespace "shop" (ProfileNotAllowed): it matches none of ["operator/*"]; use a profile that does, or ask a cluster administrator to add it to spec.localhost.allowedProfiles of ClusterSeccompPolicy "default"`},
		},
		{
			name:           "no glob matches, in a container",
			policy:         globs("operator/*", "profiles/*.json"),
			req:            create(tweakPod(all(podProfile(runtimeDefault()), containerProfile(0, localhost("custom/x.json")))), enforce),
			wantViolations: []string{`spec.containers[0].securityContext.seccompProfile.localhostProfile: "custom/x.json" is not allowed in namespace "shop" (ProfileNotAllowed): it matches none of ["operator/*", "profiles/*.json"]; use a profile that does, or ask a cluster administrator to add it to spec.localhost.allowedProfiles of ClusterSeccompPolicy "default"`},
		},
	})
}
