package policy

// Rule: UPDATE ratchet for workloads.
//
// Reads: the old object of a workload UPDATE, evaluated with the same rules
// against today's NodeView.
// Allows: violations the old object already had, identified by (reason,
// container name, profile), not by index, so reordering containers changes
// nothing. They become warnings: an UPDATE that only changes labels or
// removes a finalizer must never be blocked, a stuck finalizer being worse
// than a warning. New violations count as usual. Pod UPDATEs are skipped
// (skip.go); the ephemeralcontainers subresource checks only the ephemeral
// containers it adds (evaluate.go).

func ratchet(newVs, oldVs []Violation) (kept []Violation, warnings []string) {
	if len(oldVs) == 0 {
		return newVs, nil
	}
	old := make(map[violationKey]bool, len(oldVs))
	for _, v := range oldVs {
		old[v.key()] = true
	}
	for _, v := range newVs {
		if old[v.key()] {
			warnings = append(warnings, v.String()+" [already present before this update, so not denied]")
			continue
		}
		kept = append(kept, v)
	}
	return kept, warnings
}
