package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var leaseT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestReadLease(t *testing.T) {
	micro := func(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }
	tests := []struct {
		name     string
		lease    coordinationv1.Lease
		wantNode string
		wantAt   time.Time
		wantWhy  string
	}{
		{
			name: "named after the node and held by it",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-node-a", Namespace: "seccomp-guard"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-a"), RenewTime: micro(leaseT0)}},
			wantNode: "node-a", wantAt: leaseT0,
		},
		{
			name: "acquireTime when never renewed",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-node-a"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-a"), AcquireTime: micro(leaseT0.Add(-time.Hour))}},
			wantNode: "node-a", wantAt: leaseT0.Add(-time.Hour),
		},
		{
			name: "held by another node: refused",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-node-a"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-b"), RenewTime: micro(leaseT0)}},
			wantWhy: `its spec.holderIdentity is "node-b", not "node-a": only the agent on node node-a holds its heartbeat Lease; delete the Lease and let that agent recreate it`,
		},
		{
			name:    "no holder: refused",
			lease:   coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-node-a"}, Spec: coordinationv1.LeaseSpec{RenewTime: micro(leaseT0)}},
			wantWhy: `its spec.holderIdentity is "", not "node-a": only the agent on node node-a holds its heartbeat Lease; delete the Lease and let that agent recreate it`,
		},
		{
			name: "another name held by a node: refused (no holderIdentity fallback)",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "seccomp-guard"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-b"), RenewTime: micro(leaseT0)}},
			wantWhy: "its name does not have the form seccomp-guard-node-<node> of an agent's heartbeat",
		},
		{
			name: "the webhook's leader-election Lease: refused",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-webhook-leader", Namespace: "seccomp-guard"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("seccomp-guard-webhook-7d9f_1b2c"), RenewTime: micro(leaseT0)}},
			wantWhy: "its name does not have the form seccomp-guard-node-<node> of an agent's heartbeat",
		},
		{
			name: "the former leader-election Lease name: refused, not node \"webhook\"",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-webhook", Namespace: "seccomp-guard"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("webhook"), RenewTime: micro(leaseT0)}},
			wantWhy: "its name does not have the form seccomp-guard-node-<node> of an agent's heartbeat",
		},
		{
			name: "kubelet Lease",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Namespace: "kube-node-lease"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-a"), RenewTime: micro(leaseT0)}},
			wantWhy: "it is a kubelet Lease (namespace kube-node-lease), not the seccomp-guard agent's",
		},
		{
			name:    "no node",
			lease:   coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-", Namespace: "seccomp-guard"}},
			wantWhy: "its name does not have the form seccomp-guard-node-<node> of an agent's heartbeat",
		},
		{
			name:    "no time",
			lease:   coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-node-a"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-a")}},
			wantWhy: "it has neither spec.renewTime nor spec.acquireTime",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hb, err := ReadLease(&tc.lease)
			why := ""
			if err != nil {
				why = err.Error()
			}
			assert.Equal(t, tc.wantNode, hb.Node)
			assert.True(t, tc.wantAt.Equal(hb.Renewed), "time %s", hb.Renewed)
			assert.Equal(t, tc.wantWhy, why)
		})
	}
}
