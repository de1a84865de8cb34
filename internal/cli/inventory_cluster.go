package cli

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// ClusterInventory lists the cluster's nodes, inventories and the agents'
// Leases in namespace. The heartbeat is each Lease's renewTime as written by
// the agent: unlike the webhook, which judges by when it observed a renewal,
// a one-shot command must trust the agent's clock.
func ClusterInventory(ctx context.Context, cfg *rest.Config, namespace string) (*InventorySource, error) {
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err != nil {
		return nil, err
	}
	return ClusterInventoryFrom(ctx, c, namespace)
}

// ClusterInventoryFrom is ClusterInventory over a client: the cluster, or a
// fake in tests. It only lists and gets.
func ClusterInventoryFrom(ctx context.Context, c client.Reader, namespace string) (*InventorySource, error) {
	nodes := &corev1.NodeList{}
	invs := &v1alpha1.NodeSeccompInventoryList{}
	leases := &coordinationv1.LeaseList{}
	for _, l := range []struct {
		list client.ObjectList
		opts []client.ListOption
	}{{nodes, nil}, {invs, nil}, {leases, []client.ListOption{client.InNamespace(namespace)}}} {
		if err := c.List(ctx, l.list, l.opts...); err != nil {
			return nil, fmt.Errorf("listing %T: %w", l.list, err)
		}
	}
	src := &InventorySource{Heartbeats: map[string]time.Time{}, LeaseRequired: true}
	csp := &v1alpha1.ClusterSeccompPolicy{}
	switch err := c.Get(ctx, client.ObjectKey{Name: v1alpha1.DefaultPolicyName}, csp); {
	case err == nil:
		src.Policy = csp
	case apierrors.IsNotFound(err):
		src.Notes = append(src.Notes, fmt.Sprintf("the cluster has no ClusterSeccompPolicy %q: nodes are classified with the built-in defaults, as the webhook does", v1alpha1.DefaultPolicyName))
	default:
		src.Notes = append(src.Notes, fmt.Sprintf("reading ClusterSeccompPolicy %q failed (%v): nodes are classified with the built-in defaults; give --policy to use a file", v1alpha1.DefaultPolicyName, err))
	}
	for i := range nodes.Items {
		src.Nodes = append(src.Nodes, &nodes.Items[i])
	}
	for i := range invs.Items {
		src.Inventories = append(src.Inventories, &invs.Items[i])
	}
	for i := range leases.Items {
		if hb, err := policy.ReadLease(&leases.Items[i]); err == nil {
			src.Heartbeats[hb.Node] = hb.Renewed
			src.Leases++
		}
	}
	return src, nil
}
