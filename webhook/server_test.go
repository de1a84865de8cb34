package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// TestLeaderElectionLeaseIsNoHeartbeat proves the webhook's leader-election
// Lease, which sits with the agents' Leases in the release namespace, never
// reads as the heartbeat of a node.
func TestLeaderElectionLeaseIsNoHeartbeat(t *testing.T) {
	holder := "seccomp-guard-webhook-7d9f_0b1c"
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: LeaderElectionID, Namespace: v1alpha1.DefaultReleaseNamespace},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &metav1.MicroTime{}},
	}
	node, err := policy.LeaseNode(l)
	assert.Empty(t, node)
	assert.EqualError(t, err, "its name does not have the form seccomp-guard-node-<node> of an agent's heartbeat")
}
