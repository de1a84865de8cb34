package policy

// Rule: recording (RecordingNotAllowed, and the one exemption from
// ProfileAllowByDefault).
//
// Reads: the pod's (or pod template's) annotation seccomp-guard.io/record;
// the namespace label seccomp-guard.io/recording; the Localhost paths the
// object sets.
// Allows: recording only in a namespace labelled
// seccomp-guard.io/recording=enabled, a label only cluster administrators
// may set (docs/recording.md#permissions). There, a pod or pod template
// annotated seccomp-guard.io/record=true may run under the well-known
// logging profile RecordingProfile, whose defaultAction SCMP_ACT_LOG is
// otherwise refused as ProfileAllowByDefault: that one path, that one
// defaultAction, in that namespace, for that object. Everywhere else the
// annotation is refused (RecordingNotAllowed) and the logging profile is
// allow-by-default like any other. Defaulting (defaulting.go) injects the
// logging profile instead of the namespace's default for an annotated
// object; it never replaces a profile the user set.

const (
	// RecordingLabel is the namespace label that allows recording in a
	// namespace, with the value RecordingEnabled.
	RecordingLabel = "seccomp-guard.io/recording"
	// RecordingEnabled is the one value of RecordingLabel that allows it.
	RecordingEnabled = "enabled"
	// RecordAnnotation asks for recording on a pod or a pod template, with
	// the value "true".
	RecordAnnotation = "seccomp-guard.io/record"
	// RecordingProfile is the logging profile's path under the kubelet's
	// seccomp root. The agent writes it (--recording-dir); the directory
	// belongs to the agent.
	RecordingProfile = "seccomp-guard/recording.json"
	// RecordingAction is the logging profile's defaultAction.
	RecordingAction = "SCMP_ACT_LOG"
)

// ReasonRecordingNotAllowed: an object asks for recording (or names the
// logging profile) where the namespace does not allow it.
const ReasonRecordingNotAllowed Reason = "RecordingNotAllowed"
