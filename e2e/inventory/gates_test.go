package inventory_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestSchedulingGateRemoval: a gated pod is checked at CREATE against the
// nodes it could land on then; an UPDATE that adds a toleration (allowed on
// a gated pod) and removes the last gate widens them to node-c, which lacks
// the profile. The gated-pod webhook sees that UPDATE and refuses it; an
// UPDATE that keeps the pod where the profile is goes through.
func TestSchedulingGateRemoval(t *testing.T) {
	setPolicy(t, coverAll)
	ctx := context.Background()
	const profile = "profiles/gate.json"
	for _, n := range []string{"node-a", "node-b"} { // not node-c
		dir := filepath.Join(nodes[n].root, "profiles")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "gate.json"), []byte(validProfile), 0o644))
		t.Cleanup(func() { _ = os.Remove(filepath.Join(dir, "gate.json")) })
	}
	gated := pod("gated", localhost(profile), func(p *corev1.Pod) {
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	})
	eventuallyAdmitted(t, gated) // node-a and node-b have it; node-c is tainted
	require.NoError(t, k8s.Create(ctx, gated))
	t.Cleanup(func() { _ = k8s.Delete(ctx, gated) })

	widened := gated.DeepCopy()
	widened.Spec.SchedulingGates = nil
	tolerate("dedicated")(widened)
	want := `admission webhook "validate-gated.seccomp-guard.io" denied the request: pod "gated" is forbidden by seccomp-guard: ` +
		fld + `"profiles/gate.json" is missing on 1 of 3 nodes this pod can run on: node-c (ProfileMissing); install it there (for example with the Security Profiles Operator), or keep the pod off those nodes with a nodeSelector or node affinity`
	var err error
	assert.Eventually(t, func() bool {
		err = k8s.Update(ctx, widened.DeepCopy(), client.DryRunAll)
		return err != nil && apierrors.IsForbidden(err) && err.Error() == want
	}, 20*time.Second, 200*time.Millisecond, "want %s, got %v", want, err)

	// Still gated: the pod may change again, so nothing is checked yet.
	stillGated := widened.DeepCopy()
	stillGated.Spec.SchedulingGates = gated.Spec.SchedulingGates
	require.NoError(t, k8s.Update(ctx, stillGated, client.DryRunAll))

	// Ungated where the profile is: admitted.
	ungated := gated.DeepCopy()
	ungated.Spec.SchedulingGates = nil
	require.NoError(t, k8s.Update(ctx, ungated))
}
