package policy

// Rule: namespace mode.
//
// Reads: the namespace label seccomp-guard.io/mode, spec.defaultMode.
// Allows: label values disabled, audit, warn, enforce. The label wins; a
// namespace without it gets spec.defaultMode. A label with any other value
// (a typo, or an unquoted YAML `off`) is not silently ignored: the namespace
// is enforced, and the user is told which label to fix.

import (
	"fmt"
	"slices"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// ModeLabel is the namespace label that selects the mode.
const ModeLabel = "seccomp-guard.io/mode"

// DefaultProfileAnnotation is the namespace annotation that overrides the injected profile.
const DefaultProfileAnnotation = "seccomp-guard.io/default-profile"

// namespaceMode returns the mode for a namespace, and a warning when its label is invalid.
func namespaceMode(p *Policy, ns Namespace) (v1alpha1.Mode, string) {
	value, ok := ns.Labels[ModeLabel]
	if !ok {
		return p.DefaultMode, ""
	}
	if m := v1alpha1.Mode(value); m.IsValid() {
		return m, ""
	}
	return v1alpha1.ModeEnforce, fmt.Sprintf(
		"namespace %q: label %s=%q is not a mode, so the namespace is enforced; set it to one of disabled, audit, warn, enforce",
		ns.Name, ModeLabel, value)
}

// NamespaceMode returns the mode of a namespace under p, and a warning when
// its mode label is invalid (the namespace is then enforced).
func NamespaceMode(p *Policy, ns Namespace) (v1alpha1.Mode, string) {
	if p == nil {
		p = DefaultPolicy()
	}
	return namespaceMode(p, ns)
}

// NextMode is the next step up the ladder disabled, audit, warn, enforce;
// enforce stays enforce.
func NextMode(m v1alpha1.Mode) v1alpha1.Mode {
	// v1alpha1.Modes lists the ladder in order; the last step stays.
	ladder := v1alpha1.Modes()
	if i := slices.Index(ladder, m); i >= 0 && i < len(ladder)-1 {
		return ladder[i+1]
	}
	return ladder[len(ladder)-1]
}
