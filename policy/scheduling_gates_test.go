package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

func gated(p *corev1.Pod) {
	p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
}

// TestSchedulingGates: the UPDATE that removes a pod's last scheduling gate
// is checked against the nodes the pod can now land on, and only violations
// it introduces are denied.
func TestSchedulingGates(t *testing.T) {
	// The profile is on the web nodes, not on the db node (node-c, which
	// the db selector and its toleration reach).
	view := viewWith(except(everywhere(), "node-c"), nil)
	missingOnDB := `spec.securityContext.seccompProfile.localhostProfile: "profiles/p.json" is missing on the only node this pod can run on: node-c (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`
	web := all(selector("pool", "web"))
	db := all(selector("pool", "db"), tolerate("dedicated"))
	tests := []struct {
		name         string
		oldPod       *corev1.Pod
		newPod       *corev1.Pod
		wantSkipped  string
		wantMessages []string
		wantWarnings []string
	}{
		{
			name:         "the last gate removed and the pod moved to a node without the profile: denied",
			oldPod:       localhostPod(web, gated),
			newPod:       localhostPod(db),
			wantMessages: []string{missingOnDB},
		},
		{
			name:   "the last gate removed, the pod still on nodes with the profile: allowed",
			oldPod: localhostPod(web, gated),
			newPod: localhostPod(web),
		},
		{
			name:         "the violation was there before the update: kept as a warning, not denied",
			oldPod:       localhostPod(db, gated),
			newPod:       localhostPod(db),
			wantWarnings: []string{missingOnDB + " [already present before this update, so not denied]"},
		},
		{
			name:        "still gated: the pod may change again, nothing is checked yet",
			oldPod:      localhostPod(web, gated),
			newPod:      localhostPod(db, gated),
			wantSkipped: "a pod's seccomp profiles are immutable after creation",
		},
		{
			name:        "an ungated pod's UPDATE: skipped as before",
			oldPod:      localhostPod(web),
			newPod:      localhostPod(db),
			wantSkipped: "a pod's seccomp profiles are immutable after creation",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(compile(t, nil), view, Request{
				Operation: admissionv1.Update, Namespace: namespace("enforce"),
				Object: tc.newPod, OldObject: tc.oldPod, Final: true,
			})
			assert.Equal(t, tc.wantSkipped, d.Skipped)
			assert.Equal(t, tc.wantMessages, nilIfEmpty(d.Messages()))
			assert.Equal(t, tc.wantWarnings, nilIfEmpty(d.Warnings))
			assert.Empty(t, d.Patches, "an UPDATE of a pod is never defaulted")
			assert.Equal(t, v1alpha1.ModeEnforce, d.Mode)
		})
	}
}
