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

import (
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"
)

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

// recording is what an object asks for and what its namespace allows.
type recording struct {
	// asked: the pod or template is annotated seccomp-guard.io/record=true.
	asked bool
	// odd is the annotation's value when it is present but neither
	// "true" nor "false" (a warning; nothing is recorded).
	odd     string
	allowed bool // the namespace is labelled seccomp-guard.io/recording=enabled
	field   string
}

func recordingOf(ns Namespace, src *podSource) recording {
	r := recording{allowed: ns.Labels[RecordingLabel] == RecordingEnabled}
	if src.podMeta == nil || src.metaPath == nil {
		return r
	}
	r.field = src.metaPath.Child("annotations").Key(RecordAnnotation).String()
	switch v, ok := src.podMeta.Annotations[RecordAnnotation]; {
	case !ok:
	case v == "true":
		r.asked = true
	case v != "false":
		r.odd = v
	}
	return r
}

// permitted: the object may run under the logging profile.
func (r recording) permitted() bool { return r.asked && r.allowed }

// recordingProfile is the profile defaulting injects into an object that
// may record.
func recordingProfile() *corev1.SeccompProfile {
	lp := RecordingProfile
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}
}

// isRecordingProfile reports whether a cleaned Localhost path is the logging profile.
func isRecordingProfile(cleaned string) bool { return cleaned == RecordingProfile }

// checkRecording returns the RecordingNotAllowed violations and the
// warnings about recording for one object: the annotation where the
// namespace does not allow recording, the logging profile named by an
// object that may not record, and the containers a recording object leaves
// out because they set their own profile.
func checkRecording(r recording, places []profilePlace, namespace string) ([]Violation, []string) {
	var vs []Violation
	var ws []string
	if r.odd != "" {
		ws = append(ws, fmt.Sprintf("%s: %q is neither \"true\" nor \"false\", so nothing is recorded; set it to \"true\" to record the pod's syscalls", r.field, r.odd))
	}
	if r.asked && !r.allowed {
		vs = append(vs, Violation{
			Reason: ReasonRecordingNotAllowed, Field: r.field, profile: RecordingProfile,
			Message: fmt.Sprintf("%q asks to record syscalls under the logging profile, which namespace %q does not allow (%s): recording runs every syscall unfiltered; remove the annotation, or ask a cluster administrator to label the namespace %s=%s",
				"true", namespace, ReasonRecordingNotAllowed, RecordingLabel, RecordingEnabled),
		})
	}
	for _, pl := range places {
		isRec := pl.profile.Type == corev1.SeccompProfileTypeLocalhost && pl.profile.LocalhostProfile != nil &&
			isRecordingProfile(path.Clean(*pl.profile.LocalhostProfile))
		switch {
		case r.permitted() && !isRec:
			who := "the pod"
			if pl.container != "" {
				who = fmt.Sprintf("container %q", pl.container)
			}
			ws = append(ws, fmt.Sprintf("%s: the pod asks to be recorded, but %s sets its own profile %s, under which it is not recorded; remove it to record %s",
				pl.path, who, profileString(pl.profile), who))
		case isRec && !r.permitted():
			why := fmt.Sprintf("namespace %q is not labelled %s=%s", namespace, RecordingLabel, RecordingEnabled)
			if r.allowed {
				why = fmt.Sprintf("the pod is not annotated %s=true", RecordAnnotation)
			}
			vs = append(vs, Violation{
				Reason: ReasonRecordingNotAllowed, Field: pl.path.Child("localhostProfile").String(),
				container: pl.container, profile: RecordingProfile,
				Message: fmt.Sprintf("%q is seccomp-guard's logging profile, which lets every syscall through, and %s (%s); use another profile, or record as docs/recording.md says",
					RecordingProfile, why, ReasonRecordingNotAllowed),
			})
		}
	}
	return vs, ws
}
