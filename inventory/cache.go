package inventory

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// CacheByObject limits and trims what the webhook caches: Leases only from
// the agents' namespace, and of every object only the fields the policy
// engine reads (no managedFields, no node status: its image list alone can
// be large).
func CacheByObject(leaseNamespace string) map[client.Object]cache.ByObject {
	return map[client.Object]cache.ByObject{
		&corev1.Node{}: {Transform: func(o any) (any, error) {
			if n, ok := o.(*corev1.Node); ok {
				n.ManagedFields = nil
				n.Annotations = nil
				n.Status = corev1.NodeStatus{}
			}
			return o, nil
		}},
		&v1alpha1.NodeSeccompInventory{}: {Transform: func(o any) (any, error) {
			if inv, ok := o.(*v1alpha1.NodeSeccompInventory); ok {
				inv.ManagedFields = nil
				inv.Annotations = nil
				for i := range inv.Status.Profiles {
					inv.Status.Profiles[i].Warnings = nil
					inv.Status.Profiles[i].SilentActions = nil // for people and the reporter, not admission
				}
			}
			return o, nil
		}},
		&coordinationv1.Lease{}: {
			Namespaces: map[string]cache.Config{leaseNamespace: {}},
			Transform: func(o any) (any, error) {
				if l, ok := o.(*coordinationv1.Lease); ok {
					l.ManagedFields = nil
				}
				return o, nil
			},
		},
	}
}
