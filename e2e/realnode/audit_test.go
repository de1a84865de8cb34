package realnode_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
)

// TestAuditReportsGoneProfile: a pod whose Localhost profile is deleted from
// the node after it started is reported by `audit` as gone on that node,
// from the agent's inventory; and indeed its container's next start fails.
func TestAuditReportsGoneProfile(t *testing.T) {
	withGuard(t)
	ctx := context.Background()
	ns := namespace(t, "audit-gone", "enforce")
	const profile = "profiles/audit-gone.json"
	writeProfile(t, profileFile, profile)
	// The container exits after a few seconds and is restarted: each start
	// loads the profile anew.
	pod := localhostPod(ns, "loses-profile", profile, "sleep 3")
	require.NoError(t, waitFor(30*time.Second, "the pod to be admitted", func() (bool, string) {
		err := node.Client.Create(ctx, pod.DeepCopy())
		return err == nil, errString(err)
	}))
	waitPod(t, ns, pod.Name, 60*time.Second, "Running", running)

	state := func() (string, string) {
		r, err := cli.Audit(ctx, node.Client, cli.AuditOptions{Namespace: ns, ReleaseNamespace: agentNamespace, Now: time.Now()})
		require.NoError(t, err)
		require.Len(t, r.Namespaces, 1)
		for _, rp := range r.Namespaces[0].Profiles {
			if rp.Pod == pod.Name {
				return rp.State, rp.Node
			}
		}
		return "not reported", ""
	}
	st, on := state()
	assert.Equal(t, cli.ProfileStateOK, st, "while the profile is on the node")
	assert.Equal(t, node.NodeName, on)

	require.NoError(t, os.Remove(filepath.Join(node.SeccompRoot, profile)))
	require.NoError(t, waitFor(30*time.Second, "audit to report the profile gone", func() (bool, string) {
		st, _ := state()
		return st == cli.ProfileStateGone, "state " + st
	}))
	// What "gone" means: the container's next start fails.
	waitPod(t, ns, pod.Name, 60*time.Second, "its restart to fail", func(p *corev1.Pod) bool {
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason == "CreateContainerError" && strings.Contains(w.Message, "cannot load seccomp profile") {
				return true
			}
		}
		return false
	})
}
