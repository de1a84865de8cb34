package policy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestInvalidLocalhostPath(t *testing.T) {
	enforce := namespace("enforce")
	withPod := func(sp *corev1.SeccompProfile) Request { return create(tweakPod(podProfile(sp)), enforce) }
	runCases(t, []evalCase{
		{
			name:           "missing localhostProfile",
			req:            withPod(&corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}),
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: required when type is "Localhost" (InvalidLocalhostPath); set it to a path relative to the kubelet's seccomp root, e.g. "profiles/audit.json"`},
		},
		{
			name:           "empty localhostProfile",
			req:            withPod(localhost("")),
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: required when type is "Localhost" (InvalidLocalhostPath); set it to a path relative to the kubelet's seccomp root, e.g. "profiles/audit.json"`},
		},
		{
			name:           "absolute path",
			req:            withPod(localhost("/var/lib/kubelet/seccomp/profiles/a.json")),
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: "/var/lib/kubelet/seccomp/profiles/a.json" is absolute (InvalidLocalhostPath); write it relative to the kubelet's seccomp root, e.g. "profiles/a.json"`},
		},
		{
			name:           "absolute path outside the seccomp root",
			req:            withPod(localhost("/etc/p.json")),
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: "/etc/p.json" is absolute (InvalidLocalhostPath); write it relative to the kubelet's seccomp root, e.g. "etc/p.json"`},
		},
		{
			name:           "dot-dot path",
			req:            withPod(localhost("profiles/../../etc/passwd")),
			wantViolations: []string{`spec.securityContext.seccompProfile.localhostProfile: "profiles/../../etc/passwd" contains ".." (InvalidLocalhostPath); name a file under the kubelet's seccomp root, e.g. "profiles/audit.json"`},
		},
		{
			name:           "dot-dot in a container",
			req:            create(tweakPod(all(podProfile(runtimeDefault()), containerProfile(1, localhost("../x.json")))), enforce),
			wantViolations: []string{`spec.containers[1].securityContext.seccompProfile.localhostProfile: "../x.json" contains ".." (InvalidLocalhostPath); name a file under the kubelet's seccomp root, e.g. "profiles/audit.json"`},
		},
		{
			name:        "dot-dot inside a name is fine",
			policy:      offCoverage,
			req:         withPod(localhost("profiles/a..b.json")),
			wantAllowed: true,
		},
		{
			name:        "a path that cleans to a valid one is fine",
			policy:      offCoverage,
			req:         withPod(localhost("./profiles//a.json")),
			wantAllowed: true,
		},
	})
}
