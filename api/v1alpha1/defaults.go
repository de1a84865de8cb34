package v1alpha1

import (
	"slices"
	"time"
)

// The defaults of a ClusterSeccompPolicy spec: the one place they are
// written in Go. The CRD's +kubebuilder:default markers must say the same;
// TestDefaultsMatchCRD reads the generated CRD and fails when they drift.
// policy.Compile applies these to unset fields and to a missing policy.
const (
	DefaultMode                 = ModeDisabled
	DefaultNodeCoverage         = NodeCoverageAll
	DefaultUnknownNodes         = UnknownNodesWarn
	DefaultStaleAfter           = 5 * time.Minute
	DefaultRejectAllowByDefault = true
	DefaultWorkloads            = true
	DefaultPrivileged           = PrivilegedDeny
)

// DefaultProfileRef is injected where nothing else says which profile to use.
func DefaultProfileRef() SeccompProfileRef { return SeccompProfileRef{Type: ProfileTypeRuntimeDefault} }

// Modes lists the modes, from the least to the most strict (the ladder).
func Modes() []Mode { return []Mode{ModeDisabled, ModeAudit, ModeWarn, ModeEnforce} }

// IsValid reports whether m is one of Modes.
func (m Mode) IsValid() bool { return slices.Contains(Modes(), m) }

// NodeCoverages lists the values of spec.localhost.nodeCoverage.
func NodeCoverages() []NodeCoverage {
	return []NodeCoverage{NodeCoverageAll, NodeCoverageAny, NodeCoverageOff}
}

// IsValid reports whether c is one of NodeCoverages.
func (c NodeCoverage) IsValid() bool { return slices.Contains(NodeCoverages(), c) }

// UnknownNodesValues lists the values of spec.localhost.unknownNodes.
func UnknownNodesValues() []UnknownNodes {
	return []UnknownNodes{UnknownNodesDeny, UnknownNodesWarn, UnknownNodesAllow}
}

// IsValid reports whether u is one of UnknownNodesValues.
func (u UnknownNodes) IsValid() bool { return slices.Contains(UnknownNodesValues(), u) }

// PrivilegedActions lists the values of spec.privileged.
func PrivilegedActions() []PrivilegedAction {
	return []PrivilegedAction{PrivilegedDeny, PrivilegedWarn}
}

// IsValid reports whether a is one of PrivilegedActions.
func (a PrivilegedAction) IsValid() bool { return slices.Contains(PrivilegedActions(), a) }

// LocalhostPrefix starts the annotation form of a Localhost profile:
// localhost/<path relative to the kubelet's seccomp root>.
const LocalhostPrefix = "localhost/"

// String is the annotation form of the reference: "RuntimeDefault", or
// "localhost/<path>" (the path as written).
func (r SeccompProfileRef) String() string {
	if r.Type == ProfileTypeLocalhost && r.LocalhostProfile != nil {
		return LocalhostPrefix + *r.LocalhostProfile
	}
	return string(r.Type)
}
