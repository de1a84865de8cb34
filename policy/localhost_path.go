package policy

// Rule: InvalidLocalhostPath.
//
// Reads: seccompProfile.localhostProfile wherever seccompProfile.type is
// Localhost (pod level and every container).
// Allows: a non-empty path relative to the kubelet's seccomp root with no
// ".." element. The API server rejects absolute and ".." paths itself but
// accepts "", which the kubelet then fails on; `check` sees manifests the API
// never validated, so all three are rejected here. Valid paths are
// path.Clean'ed before any lookup ("./p.json" is "p.json").

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// localhostPathProblem returns what is wrong with a Localhost path, or "".
func localhostPathProblem(p string) string {
	switch {
	case p == "":
		return "is empty"
	case strings.HasPrefix(p, "/"):
		return "is absolute"
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return `contains ".."`
	}
	return ""
}

// checkLocalhostPath returns a violation for a Localhost place whose path is
// unusable, or nil.
func checkLocalhostPath(pl profilePlace) *Violation {
	if pl.profile.Type != corev1.SeccompProfileTypeLocalhost {
		return nil
	}
	fld := pl.path.Child("localhostProfile").String()
	if pl.profile.LocalhostProfile == nil || *pl.profile.LocalhostProfile == "" {
		return &Violation{
			Reason: ReasonInvalidLocalhostPath, Field: fld, container: pl.container,
			Message: fmt.Sprintf(`required when type is "Localhost" (%s); set it to a path relative to the kubelet's seccomp root, e.g. "profiles/audit.json"`,
				ReasonInvalidLocalhostPath),
		}
	}
	lp := *pl.profile.LocalhostProfile
	problem := localhostPathProblem(lp)
	if problem == "" {
		return nil
	}
	fix := `name a file under the kubelet's seccomp root, e.g. "profiles/audit.json"`
	if problem == "is absolute" {
		rel := strings.TrimLeft(lp, "/")
		if i := strings.LastIndex(lp, "/seccomp/"); i >= 0 {
			rel = lp[i+len("/seccomp/"):]
		}
		fix = fmt.Sprintf("write it relative to the kubelet's seccomp root, e.g. %q", rel)
	}
	return &Violation{
		Reason: ReasonInvalidLocalhostPath, Field: fld, container: pl.container, profile: lp,
		Message: fmt.Sprintf("%q %s (%s); %s", lp, problem, ReasonInvalidLocalhostPath, fix),
	}
}
