package policy

// Rule: ProfileNotAllowed.
//
// Reads: seccompProfile.localhostProfile wherever type is Localhost (pod
// level and every container), after path.Clean; spec.localhost.allowedProfiles.
// Allows: any path when allowedProfiles is empty; else a path that matches
// at least one glob (path.Match: "*" does not cross "/").

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

func profileAllowed(p *Policy, cleaned string) bool {
	if len(p.AllowedProfiles) == 0 {
		return true
	}
	return slices.ContainsFunc(p.AllowedProfiles, func(glob string) bool {
		ok, _ := path.Match(glob, cleaned)
		return ok
	})
}

func checkAllowedProfile(p *Policy, pl profilePlace, cleaned, namespace string) *Violation {
	if profileAllowed(p, cleaned) {
		return nil
	}
	return &Violation{
		Reason: ReasonProfileNotAllowed, Field: pl.path.Child("localhostProfile").String(),
		container: pl.container, profile: cleaned,
		Message: fmt.Sprintf("%q is not allowed in namespace %q (%s): it matches none of %s; use a profile that does, or ask a cluster administrator to add it to spec.localhost.allowedProfiles of ClusterSeccompPolicy \"default\"",
			cleaned, namespace, ReasonProfileNotAllowed, quoteList(p.AllowedProfiles)),
	}
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
