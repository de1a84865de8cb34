package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ProfileStatus is what the agent found in one file under the node's seccomp root.
type ProfileStatus struct {
	// Path relative to the kubelet's seccomp root, as a pod's localhostProfile names it.
	// +required
	Path string `json:"path"`
	// SHA256 of the file's content, hex encoded.
	// +optional
	SHA256 string `json:"sha256,omitempty"`
	// Size in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// Valid says whether the node's container runtime can load the file as a seccomp profile.
	// +required
	Valid bool `json:"valid"`
	// Reason says why the file is not valid (with its line where one applies).
	// +optional
	Reason string `json:"reason,omitempty"`
	// DefaultAction is the profile's defaultAction, e.g. SCMP_ACT_ERRNO.
	// +optional
	DefaultAction string `json:"defaultAction,omitempty"`
	// Warnings name fields the node's runtime ignores.
	// +optional
	Warnings []string `json:"warnings,omitempty"`
	// SilentActions are the profile's refusing actions that leave no audit
	// record, so that violation monitoring cannot see them: SCMP_ACT_ERRNO
	// and SCMP_ACT_TRAP when the profile lacks the flag
	// SECCOMP_FILTER_FLAG_LOG (docs/violations.md#4-silent-refusals).
	// +optional
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:validation:items:Enum=SCMP_ACT_ERRNO;SCMP_ACT_TRAP
	SilentActions []string `json:"silentActions,omitempty"`
}

// NodeSeccompInventoryStatus is the node's seccomp profile inventory.
type NodeSeccompInventoryStatus struct {
	// Profiles lists every regular file under the seccomp root, sorted by path.
	// +optional
	// +listType=map
	// +listMapKey=path
	Profiles []ProfileStatus `json:"profiles,omitempty"`
	// ProfileCount is the number of files found, including any the inventory leaves out (see the Truncated condition).
	// +optional
	ProfileCount int32 `json:"profileCount"`
	// InvalidCount is the number of files that are not valid profiles.
	// +optional
	InvalidCount int32 `json:"invalidCount"`
	// Runtime is the container runtime the files were validated for, e.g. "containerd".
	// +optional
	Runtime string `json:"runtime,omitempty"`
	// ObservedTime is when the agent last scanned the tree and found a change.
	// +optional
	ObservedTime *metav1.Time `json:"observedTime,omitempty"`
	// Conditions: Truncated is True when the agent left files out of profiles to keep the
	// object within the API's size limit; its message says how many and why. Admission
	// treats a profile that a truncated inventory does not list as unknown on the node.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Recordings are the syscalls the agent observed from containers that
	// run under the recording profile (docs/recording.md), one entry per
	// namespace, workload and container, merged over every run and replica
	// on this node. The agent writes them with its own field manager
	// (seccomp-guard-recorder); `seccomp-guard profile record` merges the
	// entries of every node into a profile.
	// +optional
	// +listType=map
	// +listMapKey=namespace
	// +listMapKey=workload
	// +listMapKey=container
	// +kubebuilder:validation:MaxItems=64
	Recordings []RecordingStatus `json:"recordings,omitempty"`
}

// RecordingStatus is what one node observed of one recorded container.
type RecordingStatus struct {
	// Namespace of the recorded pods.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
	// Workload is the pods' top-level owner as "Kind/name", e.g.
	// "Deployment/web" (a pod without a controller is "Pod/<name>").
	// +required
	// +kubebuilder:validation:MaxLength=320
	Workload string `json:"workload"`
	// Container is the container's name.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Container string `json:"container"`
	// Architectures are the audit architectures the syscalls were made
	// in, as the kernel names them ("x86_64", "aarch64"), sorted.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Architectures []string `json:"architectures,omitempty"`
	// Syscalls are the names of the syscalls observed, sorted.
	// +optional
	// +kubebuilder:validation:MaxItems=1024
	Syscalls []string `json:"syscalls,omitempty"`
	// UnnamedSyscalls counts records of syscall numbers with no name in the
	// architecture's table: a profile cannot allow them by name.
	// +optional
	UnnamedSyscalls int64 `json:"unnamedSyscalls,omitempty"`
	// Records is how many records were collected.
	// +optional
	Records int64 `json:"records,omitempty"`
	// Pods is how many distinct pods contributed (on this node).
	// +optional
	Pods int32 `json:"pods,omitempty"`
	// FirstSeen and LastSeen bound the records collected.
	// +optional
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
}

// The inventory's condition type and its reasons.
const (
	// InventoryTruncated is True when the inventory leaves files out.
	InventoryTruncated = "Truncated"
	// ReasonAllProfilesListed: Truncated is False, every file is listed.
	ReasonAllProfilesListed = "AllProfilesListed"
	// ReasonProfileCountCapped: files beyond the agent's profile count limit are left out.
	ReasonProfileCountCapped = "ProfileCountCapped"
	// ReasonProfileSizeCapped: files beyond the agent's limit on the entries' size are left out.
	ReasonProfileSizeCapped = "ProfileSizeCapped"
	// ReasonProfilePathTooLong: files whose path is over the agent's path length limit are left out.
	ReasonProfilePathTooLong = "ProfilePathTooLong"
)

// Omitted is how many files the inventory leaves out: ProfileCount less the
// entries listed when the Truncated condition is True, else 0.
func (s *NodeSeccompInventoryStatus) Omitted() int {
	for _, c := range s.Conditions {
		if c.Type == InventoryTruncated && c.Status == metav1.ConditionTrue {
			return max(int(s.ProfileCount)-len(s.Profiles), 1)
		}
	}
	return 0
}

// NodeSeccompInventory lists the seccomp profiles present on one node. It is
// named after its Node, owned by it, and written only by that node's agent.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=nsi
// +kubebuilder:printcolumn:name="Profiles",type=integer,JSONPath=`.status.profileCount`
// +kubebuilder:printcolumn:name="Invalid",type=integer,JSONPath=`.status.invalidCount`
// +kubebuilder:printcolumn:name="Runtime",type=string,JSONPath=`.status.runtime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type NodeSeccompInventory struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Status NodeSeccompInventoryStatus `json:"status,omitempty"`
}

// NodeSeccompInventoryList is a list of NodeSeccompInventory.
//
// +kubebuilder:object:root=true
type NodeSeccompInventoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeSeccompInventory `json:"items"`
}
