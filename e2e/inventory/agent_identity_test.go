package inventory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// agentAs impersonates the agent's ServiceAccount with a token bound to node
// ("" for a token bound to no node), as the kubelet's projected token is.
func agentAs(t *testing.T, node string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + releaseNamespace + ":seccomp-guard-agent",
		Groups:   []string{"system:serviceaccounts", "system:masters"}, // RBAC is not what this test is about
	}
	if node != "" {
		cfg.Impersonate.Extra = map[string][]string{"authentication.kubernetes.io/node-name": {node}}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	require.NoError(t, err)
	return c
}

// TestAgentWritesOnlyItsOwnNode installs the chart's admission policy and
// checks that an agent's identity cannot write another node's inventory or Lease.
func TestAgentWritesOnlyItsOwnNode(t *testing.T) {
	ctx := context.Background()
	rendered, err := framework.RenderChart("sg", releaseNamespace, nil)
	require.NoError(t, err)
	var objs []*unstructured.Unstructured
	for _, o := range rendered {
		if o.GetName() == "sg-agent-own-node" &&
			(o.GetKind() == "ValidatingAdmissionPolicy" || o.GetKind() == "ValidatingAdmissionPolicyBinding") {
			objs = append(objs, o)
		}
	}
	require.Len(t, objs, 2, "the chart renders the agent's policy and its binding")
	for _, o := range objs {
		require.NoError(t, k8s.Create(ctx, o))
	}
	t.Cleanup(func() {
		for _, o := range objs {
			_ = k8s.Delete(ctx, o)
		}
	})

	inv := func(name string) *v1alpha1.NodeSeccompInventory {
		return &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	lease := func(name, holder string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: releaseNamespace, Name: name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}
	}
	agentA := agentAs(t, "node-x")

	// The policy takes effect once the API server has compiled it.
	require.Eventually(t, func() bool {
		err := agentA.Create(ctx, inv("node-y"), client.DryRunAll)
		return apierrors.IsForbidden(err) || apierrors.IsInvalid(err)
	}, 20*time.Second, 200*time.Millisecond, "the ValidatingAdmissionPolicy did not take effect")

	tests := []struct {
		name    string
		c       client.Client
		obj     client.Object
		wantErr string
	}{
		{name: "its own inventory", c: agentA, obj: inv("node-x")},
		{name: "its own Lease", c: agentA, obj: lease(policy.LeaseName("node-x"), "node-x")},
		{
			name:    "another node's inventory",
			c:       agentA,
			obj:     inv("node-y"),
			wantErr: `nodeseccompinventories.seccomp-guard.io "node-y" is forbidden: ValidatingAdmissionPolicy 'sg-agent-own-node' with binding 'sg-agent-own-node' denied request: the seccomp-guard agent of node "node-x" may write only the NodeSeccompInventory "node-x", not "node-y"`,
		},
		{
			name:    "another node's Lease",
			c:       agentA,
			obj:     lease(policy.LeaseName("node-y"), "node-x"),
			wantErr: `leases.coordination.k8s.io "seccomp-guard-node-node-y" is forbidden: ValidatingAdmissionPolicy 'sg-agent-own-node' with binding 'sg-agent-own-node' denied request: the seccomp-guard agent of node "node-x" may write only the Lease seccomp-guard/seccomp-guard-node-node-x, not seccomp-guard/seccomp-guard-node-node-y`,
		},
		{
			name:    "the former name form",
			c:       agentA,
			obj:     lease("seccomp-guard-node-x", "node-x"),
			wantErr: `leases.coordination.k8s.io "seccomp-guard-node-x" is forbidden: ValidatingAdmissionPolicy 'sg-agent-own-node' with binding 'sg-agent-own-node' denied request: the seccomp-guard agent of node "node-x" may write only the Lease seccomp-guard/seccomp-guard-node-node-x, not seccomp-guard/seccomp-guard-node-x`,
		},
		{
			name:    "its own Lease held by another node",
			c:       agentA,
			obj:     lease(policy.LeaseName("node-x"), "node-y"),
			wantErr: `leases.coordination.k8s.io "seccomp-guard-node-node-x" is forbidden: ValidatingAdmissionPolicy 'sg-agent-own-node' with binding 'sg-agent-own-node' denied request: the seccomp-guard agent of node "node-x" must hold its Lease: set spec.holderIdentity to "node-x"`,
		},
		{
			name:    "a token bound to no node",
			c:       agentAs(t, ""),
			obj:     inv("node-x"),
			wantErr: `nodeseccompinventories.seccomp-guard.io "node-x" is forbidden: ValidatingAdmissionPolicy 'sg-agent-own-node' with binding 'sg-agent-own-node' denied request: the seccomp-guard agent's token is not bound to a node (no authentication.kubernetes.io/node-name): run the agent as a DaemonSet pod with its projected ServiceAccount token, not with a long-lived token Secret`,
		},
		{name: "other users are not restricted", c: k8s, obj: inv("node-y")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Create(ctx, tc.obj, client.DryRunAll)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, apierrors.IsForbidden(err) || apierrors.IsInvalid(err), err.Error())
			assert.Equal(t, tc.wantErr, err.Error())
		})
	}
}
