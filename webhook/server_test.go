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

func TestPprofAddress(t *testing.T) {
	notLoopback := func(addr string) string {
		return `--pprof-bind-address "` + addr + `" is not a loopback address: profiles reveal memory contents, so serve them on 127.0.0.1 or [::1] only (then kubectl port-forward to reach them)`
	}
	tests := []struct {
		name, addr, wantErr string
	}{
		{name: "off", addr: ""},
		{name: "IPv4 loopback", addr: "127.0.0.1:6060"},
		{name: "IPv6 loopback", addr: "[::1]:6060"},
		{name: "localhost", addr: "localhost:6060"},
		{name: "every address", addr: ":6060", wantErr: notLoopback(":6060")},
		{name: "all IPv4 addresses", addr: "0.0.0.0:6060", wantErr: notLoopback("0.0.0.0:6060")},
		{name: "a pod address", addr: "10.0.0.7:6060", wantErr: notLoopback("10.0.0.7:6060")},
		{name: "a host name", addr: "webhook.example:6060", wantErr: notLoopback("webhook.example:6060")},
		{name: "no port", addr: "127.0.0.1", wantErr: `--pprof-bind-address "127.0.0.1" is not host:port (address 127.0.0.1: missing port in address): give a loopback address such as 127.0.0.1:6060`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := PprofAddress(tc.addr)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tc.wantErr)
		})
	}
}
