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
			name:     "named after the node",
			lease:    coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-a"}, Spec: coordinationv1.LeaseSpec{RenewTime: micro(leaseT0)}},
			wantNode: "node-a", wantAt: leaseT0,
		},
		{
			name: "the name wins over the holder",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-a"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-b"), RenewTime: micro(leaseT0)}},
			wantNode: "node-a", wantAt: leaseT0,
		},
		{
			name: "holder names the node",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "seccomp-guard"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-b"), RenewTime: micro(leaseT0)}},
			wantNode: "node-b", wantAt: leaseT0,
		},
		{
			name: "acquireTime when never renewed",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-a"},
				Spec: coordinationv1.LeaseSpec{AcquireTime: micro(leaseT0.Add(-time.Hour))}},
			wantNode: "node-a", wantAt: leaseT0.Add(-time.Hour),
		},
		{
			name: "kubelet Lease",
			lease: coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-a", Namespace: "kube-node-lease"},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("node-a"), RenewTime: micro(leaseT0)}},
			wantWhy: "it is a kubelet Lease (namespace kube-node-lease), not the seccomp-guard agent's",
		},
		{
			name:    "no node",
			lease:   coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "leader", Namespace: "seccomp-guard"}},
			wantWhy: `its name does not start with "seccomp-guard-" and it has no spec.holderIdentity naming the node`,
		},
		{
			name:    "no time",
			lease:   coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "seccomp-guard-node-a"}},
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
