package policy

import (
	"fmt"
	"path"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// Policy is a ClusterSeccompPolicy spec with every default applied and every
// glob checked, ready to evaluate requests. Build it with Compile.
type Policy struct {
	// Name and Generation identify the object it came from ("" and 0 for
	// the built-in defaults).
	Name       string
	Generation int64

	DefaultMode          v1alpha1.Mode
	DefaultProfile       v1alpha1.SeccompProfileRef
	ExemptNamespaces     map[string]bool
	ExemptUsernames      map[string]bool
	ExemptRuntimeClasses map[string]bool
	AllowedProfiles      []string
	NodeCoverage         v1alpha1.NodeCoverage
	UnknownNodes         v1alpha1.UnknownNodes
	StaleAfter           time.Duration
	RejectAllowByDefault bool
	Workloads            bool
	Privileged           v1alpha1.PrivilegedAction
}

// DefaultPolicy is the policy used when no ClusterSeccompPolicy "default" exists.
func DefaultPolicy() *Policy {
	p, _ := Compile(nil)
	return p
}

// Compile applies defaults to a ClusterSeccompPolicy (nil means the built-in
// defaults) and validates what the CRD schema cannot: the globs of
// allowedProfiles, and a Localhost default outside them. It returns the
// errors with their field paths, and alongside them a policy the webhook can
// keep serving: broken globs are kept and match nothing (failing closed), a
// Localhost default outside allowedProfiles is kept (its pods are then
// denied, with the message), and invalid enum values or durations fall back
// to their defaults.
func Compile(obj *v1alpha1.ClusterSeccompPolicy) (*Policy, field.ErrorList) {
	p := &Policy{
		DefaultMode:          v1alpha1.DefaultMode,
		DefaultProfile:       v1alpha1.DefaultProfileRef(),
		ExemptNamespaces:     map[string]bool{},
		ExemptUsernames:      map[string]bool{},
		ExemptRuntimeClasses: map[string]bool{},
		NodeCoverage:         v1alpha1.DefaultNodeCoverage,
		UnknownNodes:         v1alpha1.DefaultUnknownNodes,
		StaleAfter:           v1alpha1.DefaultStaleAfter,
		RejectAllowByDefault: v1alpha1.DefaultRejectAllowByDefault,
		Workloads:            v1alpha1.DefaultWorkloads,
		Privileged:           v1alpha1.DefaultPrivileged,
	}
	if obj == nil {
		return p, nil
	}
	p.Name, p.Generation = obj.Name, obj.Generation
	spec := &obj.Spec
	specPath := field.NewPath("spec")
	var errs field.ErrorList

	switch {
	case spec.DefaultMode == "":
	case spec.DefaultMode.IsValid():
		p.DefaultMode = spec.DefaultMode
	default:
		errs = append(errs, field.NotSupported(specPath.Child("defaultMode"), spec.DefaultMode, v1alpha1.Modes()))
	}

	switch {
	case spec.Privileged == "":
	case spec.Privileged.IsValid():
		p.Privileged = spec.Privileged
	default:
		errs = append(errs, field.NotSupported(specPath.Child("privileged"), spec.Privileged, v1alpha1.PrivilegedActions()))
	}

	if ref := spec.DefaultProfile; ref != nil {
		if _, err := ParseProfileRef(*ref); err != nil {
			errs = append(errs, field.Invalid(specPath.Child("defaultProfile"), ref.String(), err.Error()))
		} else {
			p.DefaultProfile = *ref.DeepCopy()
		}
	}

	for _, ns := range spec.Exemptions.Namespaces {
		p.ExemptNamespaces[ns] = true
	}
	for _, u := range spec.Exemptions.Usernames {
		p.ExemptUsernames[u] = true
	}
	for _, rc := range spec.Exemptions.RuntimeClassNames {
		p.ExemptRuntimeClasses[rc] = true
	}

	lh := &spec.Localhost
	lhPath := specPath.Child("localhost")
	for i, glob := range lh.AllowedProfiles {
		// A broken glob is kept: it matches nothing, so a list of broken
		// globs allows nothing rather than everything.
		p.AllowedProfiles = append(p.AllowedProfiles, glob)
		if _, err := path.Match(glob, ""); err != nil || glob == "" || path.IsAbs(glob) {
			errs = append(errs, field.Invalid(lhPath.Child("allowedProfiles").Index(i), glob,
				`not a valid glob: use path.Match syntax relative to the kubelet's seccomp root, e.g. "operator/*" or "profiles/*.json"`))
		}
	}
	switch {
	case lh.NodeCoverage == "":
	case lh.NodeCoverage.IsValid():
		p.NodeCoverage = lh.NodeCoverage
	default:
		errs = append(errs, field.NotSupported(lhPath.Child("nodeCoverage"), lh.NodeCoverage, v1alpha1.NodeCoverages()))
	}
	switch {
	case lh.UnknownNodes == "":
	case lh.UnknownNodes.IsValid():
		p.UnknownNodes = lh.UnknownNodes
	default:
		errs = append(errs, field.NotSupported(lhPath.Child("unknownNodes"), lh.UnknownNodes, v1alpha1.UnknownNodesValues()))
	}
	if lh.StaleAfter != nil {
		if lh.StaleAfter.Duration < time.Second {
			errs = append(errs, field.Invalid(lhPath.Child("staleAfter"), lh.StaleAfter.Duration.String(), "must be at least 1s, e.g. 5m"))
		} else {
			p.StaleAfter = lh.StaleAfter.Duration
		}
	}
	if ref := spec.DefaultProfile; ref != nil && ref.Type == v1alpha1.ProfileTypeLocalhost && p.DefaultProfile.LocalhostProfile != nil {
		if lp := path.Clean(*p.DefaultProfile.LocalhostProfile); !profileAllowed(p, lp) {
			errs = append(errs, field.Invalid(specPath.Child("defaultProfile", "localhostProfile"), lp,
				fmt.Sprintf("matches none of spec.localhost.allowedProfiles %s, so every defaulted pod would be denied; add it there or choose another default", quoteList(p.AllowedProfiles))))
		}
	}
	if lh.RejectAllowByDefault != nil {
		p.RejectAllowByDefault = *lh.RejectAllowByDefault
	}
	if spec.Workloads != nil {
		p.Workloads = *spec.Workloads
	}
	return p, errs
}

// ParseProfileRef checks a profile reference and returns it in the
// annotation form ("RuntimeDefault" or "localhost/<path>").
func ParseProfileRef(ref v1alpha1.SeccompProfileRef) (string, error) {
	switch ref.Type {
	case v1alpha1.ProfileTypeRuntimeDefault:
		if ref.LocalhostProfile != nil {
			return "", fmt.Errorf("localhostProfile must not be set when type is RuntimeDefault")
		}
		return string(ref.Type), nil
	case v1alpha1.ProfileTypeLocalhost:
		if ref.LocalhostProfile == nil {
			return "", fmt.Errorf("localhostProfile is required when type is Localhost")
		}
		if problem := localhostPathProblem(*ref.LocalhostProfile); problem != "" {
			return "", fmt.Errorf("localhostProfile %q %s", *ref.LocalhostProfile, problem)
		}
		return v1alpha1.LocalhostPrefix + path.Clean(*ref.LocalhostProfile), nil
	default:
		return "", fmt.Errorf("type %q is not supported: use RuntimeDefault or Localhost", ref.Type)
	}
}
