package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultPolicyName is the name of the only ClusterSeccompPolicy the webhook reads.
const DefaultPolicyName = "default"

// Mode is how seccomp-guard treats a namespace.
// +kubebuilder:validation:Enum=disabled;audit;warn;enforce
type Mode string

const (
	// ModeDisabled skips every check and every default.
	ModeDisabled Mode = "disabled"
	// ModeAudit changes nothing and records what would be defaulted and denied
	// in the API server's audit log and in metrics.
	ModeAudit Mode = "audit"
	// ModeWarn defaults profiles and admits violations with admission warnings.
	ModeWarn Mode = "warn"
	// ModeEnforce defaults profiles and denies violations.
	ModeEnforce Mode = "enforce"
)

// ProfileType is the kind of seccomp profile seccomp-guard injects by default.
// Unconfined is deliberately not a choice.
// +kubebuilder:validation:Enum=RuntimeDefault;Localhost
type ProfileType string

const (
	// ProfileTypeRuntimeDefault is the container runtime's default profile.
	ProfileTypeRuntimeDefault ProfileType = "RuntimeDefault"
	// ProfileTypeLocalhost is a profile file on the node, relative to the kubelet's seccomp root.
	ProfileTypeLocalhost ProfileType = "Localhost"
)

// NodeCoverage says on which of a pod's candidate nodes a Localhost profile must exist.
// +kubebuilder:validation:Enum=All;Any;Off
type NodeCoverage string

const (
	// NodeCoverageAll requires the profile, valid, on every candidate node.
	NodeCoverageAll NodeCoverage = "All"
	// NodeCoverageAny requires it on at least one candidate node and warns about the rest.
	NodeCoverageAny NodeCoverage = "Any"
	// NodeCoverageOff does not look at nodes.
	NodeCoverageOff NodeCoverage = "Off"
)

// UnknownNodes says what a candidate node without a fresh inventory means.
// +kubebuilder:validation:Enum=Deny;Warn;Allow
type UnknownNodes string

const (
	// UnknownNodesDeny denies with InventoryUnknown.
	UnknownNodesDeny UnknownNodes = "Deny"
	// UnknownNodesWarn admits with a warning.
	UnknownNodesWarn UnknownNodes = "Warn"
	// UnknownNodesAllow admits silently.
	UnknownNodesAllow UnknownNodes = "Allow"
)

// PrivilegedAction says what a privileged container means: the container
// runtime runs it with no seccomp filter, whatever its profile says.
// +kubebuilder:validation:Enum=Deny;Warn
type PrivilegedAction string

const (
	// PrivilegedDeny makes a privileged container a violation (PrivilegedForbidden).
	PrivilegedDeny PrivilegedAction = "Deny"
	// PrivilegedWarn admits it with a warning.
	PrivilegedWarn PrivilegedAction = "Warn"
)

// SeccompProfileRef names a seccomp profile to inject.
// +kubebuilder:validation:XValidation:rule="self.type == 'Localhost' ? has(self.localhostProfile) && size(self.localhostProfile) > 0 : !has(self.localhostProfile)",message="localhostProfile must be set when type is Localhost, and only then"
type SeccompProfileRef struct {
	// Type is RuntimeDefault or Localhost.
	// +required
	Type ProfileType `json:"type"`

	// LocalhostProfile is the profile's path relative to the kubelet's seccomp
	// root (for example "profiles/audit.json"). Required when type is Localhost.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/')",message="localhostProfile must be a relative path"
	// +kubebuilder:validation:XValidation:rule="!self.split('/').exists(p, p == '..')",message="localhostProfile must not contain '..'"
	LocalhostProfile *string `json:"localhostProfile,omitempty"`
}

// Exemptions lists requests that seccomp-guard admits without looking at them.
type Exemptions struct {
	// Namespaces whose objects are never defaulted or checked.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`

	// Usernames (as the API server authenticated them) whose requests are
	// never defaulted or checked, e.g. "system:serviceaccount:ops:deployer".
	// +optional
	// +listType=set
	Usernames []string `json:"usernames,omitempty"`

	// RuntimeClassNames of pods that are never defaulted or checked, e.g. a
	// VM-isolated runtime class that does not use seccomp.
	// +optional
	// +listType=set
	RuntimeClassNames []string `json:"runtimeClassNames,omitempty"`
}

// LocalhostPolicy governs pods that use Localhost profiles.
type LocalhostPolicy struct {
	// AllowedProfiles are path.Match globs ("operator/*", "profiles/*.json")
	// that a Localhost profile path must match. Empty allows any path.
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:XValidation:rule="!self.startsWith('/')",message="allowedProfiles entries are relative to the kubelet's seccomp root and must not start with '/'"
	AllowedProfiles []string `json:"allowedProfiles,omitempty"`

	// NodeCoverage says where a profile must exist among the nodes a pod can run on.
	// Quote "Off" in YAML: unquoted, YAML 1.1 reads it as the boolean false.
	// +optional
	// +kubebuilder:default=All
	NodeCoverage NodeCoverage `json:"nodeCoverage,omitempty"`

	// UnknownNodes says what to do about candidate nodes whose inventory is missing or stale.
	// +optional
	// +kubebuilder:default=Warn
	UnknownNodes UnknownNodes `json:"unknownNodes,omitempty"`

	// StaleAfter is how long after its last observed heartbeat a node's
	// inventory stops counting.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="staleAfter must be a Go duration of at least 1s, e.g. 5m or 90s"
	StaleAfter *metav1.Duration `json:"staleAfter,omitempty"`

	// RejectAllowByDefault treats a profile whose defaultAction allows
	// (SCMP_ACT_ALLOW, SCMP_ACT_LOG) as no better than Unconfined.
	// +optional
	// +kubebuilder:default=true
	RejectAllowByDefault *bool `json:"rejectAllowByDefault,omitempty"`
}

// ClusterSeccompPolicySpec is the cluster-wide seccomp policy.
type ClusterSeccompPolicySpec struct {
	// DefaultMode applies to namespaces without the seccomp-guard.io/mode label.
	// +optional
	// +kubebuilder:default=disabled
	DefaultMode Mode `json:"defaultMode,omitempty"`

	// DefaultProfile is injected where a pod sets no pod-level profile, unless the
	// namespace's seccomp-guard.io/default-profile annotation says otherwise.
	// Defaults to RuntimeDefault.
	// +optional
	DefaultProfile *SeccompProfileRef `json:"defaultProfile,omitempty"`

	// Privileged says what a container with securityContext.privileged: true
	// means. The container runtime runs a privileged container with no
	// seccomp filter whatever its seccompProfile says, so Deny (the default)
	// makes it a violation (PrivilegedForbidden) and Warn admits it with a
	// warning. Exempt the namespaces that need privileged pods (CNI, CSI and
	// GPU DaemonSets) with spec.exemptions.namespaces.
	// +optional
	// +kubebuilder:default=Deny
	Privileged PrivilegedAction `json:"privileged,omitempty"`

	// Exemptions are admitted unchanged.
	// +optional
	Exemptions Exemptions `json:"exemptions,omitempty"`

	// Localhost governs Localhost profiles.
	// +optional
	// +kubebuilder:default={}
	Localhost LocalhostPolicy `json:"localhost,omitempty"`

	// Workloads extends defaulting and validation to the pod templates of
	// Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
	// ReplicationControllers and PodTemplates, so mistakes surface at apply time.
	// +optional
	// +kubebuilder:default=true
	Workloads *bool `json:"workloads,omitempty"`
}

// ClusterSeccompPolicyStatus reports what the webhook serves.
type ClusterSeccompPolicyStatus struct {
	// ObservedGeneration is the generation of the spec the webhook serves.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready says whether the webhook serves this generation.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Ladder counts, per mode, the namespaces in it and the top-level
	// objects there that break a rule and so would be denied once their
	// namespace reaches enforce. Written by `seccomp-guard reporter`
	// (rate-limited); absent when no reporter runs.
	// +optional
	Ladder *LadderStatus `json:"ladder,omitempty"`
}

// LadderStatus is the rollout ladder (disabled, audit, warn, enforce) as the
// reporter last saw it.
type LadderStatus struct {
	Disabled LadderStep `json:"disabled"`
	Audit    LadderStep `json:"audit"`
	Warn     LadderStep `json:"warn"`
	Enforce  LadderStep `json:"enforce"`
	// ObservedTime is when the reporter evaluated the cluster.
	ObservedTime metav1.Time `json:"observedTime"`
}

// LadderStep is one mode of the ladder.
type LadderStep struct {
	// Namespaces counts the namespaces in the mode (exempt ones excluded).
	Namespaces int32 `json:"namespaces"`
	// Violating counts their top-level objects that break a rule: at the
	// next step (enforce: already now) their next Pod CREATE is denied, or
	// warned or audited before enforce.
	Violating int32 `json:"violating"`
	// Summary is both, for the printer column: "3 ns, 2 would be denied".
	Summary string `json:"summary"`
}

// ClusterSeccompPolicy is the cluster-wide seccomp policy. The webhook reads
// the one named "default".
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=csp
// +kubebuilder:printcolumn:name="Default Mode",type=string,JSONPath=`.spec.defaultMode`
// +kubebuilder:printcolumn:name="Coverage",type=string,JSONPath=`.spec.localhost.nodeCoverage`
// +kubebuilder:printcolumn:name="Served",type=integer,JSONPath=`.status.observedGeneration`
// +kubebuilder:printcolumn:name="Disabled",type=string,JSONPath=`.status.ladder.disabled.summary`
// +kubebuilder:printcolumn:name="Audit",type=string,JSONPath=`.status.ladder.audit.summary`
// +kubebuilder:printcolumn:name="Warn",type=string,JSONPath=`.status.ladder.warn.summary`
// +kubebuilder:printcolumn:name="Enforce",type=string,JSONPath=`.status.ladder.enforce.summary`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="the webhook reads only the ClusterSeccompPolicy named 'default'; name it default"
type ClusterSeccompPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec ClusterSeccompPolicySpec `json:"spec,omitempty"`
	// +optional
	Status ClusterSeccompPolicyStatus `json:"status,omitempty"`
}

// ClusterSeccompPolicyList is a list of ClusterSeccompPolicy.
//
// +kubebuilder:object:root=true
type ClusterSeccompPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterSeccompPolicy `json:"items"`
}
