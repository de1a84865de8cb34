// Package policy is seccomp-guard's decision engine.
//
// It is pure: it reads the object under admission, the namespace, the
// ClusterSeccompPolicy and a read-only NodeView, and returns a Decision. It
// does no I/O, keeps no clock (time comes in with the Request), and imports
// neither client-go nor controller-runtime, so the webhook, the offline CLI
// and the tests all get the same answer for the same input.
//
// Every rule lives in its own file whose header comment names the fields it
// reads and the values it allows:
//
//	mode.go              namespace mode (label, else spec.defaultMode)
//	skip.go              operations, subresources, exemptions, Windows pods
//	defaulting.go        pod-level seccompProfile defaulting as JSON patches
//	not_set.go           ProfileNotSet (validating stage: the mutating webhook was skipped)
//	mirror.go            mirror pods: never defaulted, violations become warnings
//	unconfined.go        UnconfinedForbidden
//	localhost_path.go    InvalidLocalhostPath
//	allowed_profiles.go  ProfileNotAllowed
//	candidates.go        the nodes a pod can run on
//	coverage.go          ProfileMissing, ProfileInvalid, ProfileAllowByDefault, InventoryUnknown, drift
//	privileged.go        PrivilegedForbidden (spec.privileged Deny | Warn)
//	recording.go         RecordingNotAllowed, and the logging profile's one exemption
//	legacy.go            legacy seccomp annotations (warning only)
//	ratchet.go           UPDATE ratchet for workloads
package policy
