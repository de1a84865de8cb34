package webhook

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// CachedNamespaces reads namespaces' labels and annotations from the
// manager's metadata-only cache. A namespace the cache has not seen yet
// (created an instant before the pod) is read once from the API rather than
// treated as unlabelled.
type CachedNamespaces struct {
	Cache client.Reader // the manager's cache
	API   client.Reader // the manager's APIReader: a live GET
}

var _ NamespaceGetter = (*CachedNamespaces)(nil)

// NewNamespaceMetadata returns an empty metadata-only Namespace object, the
// form in which namespaces are cached.
func NewNamespaceMetadata() *metav1.PartialObjectMetadata {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return ns
}

// Namespace implements NamespaceGetter.
func (c *CachedNamespaces) Namespace(ctx context.Context, name string) (policy.Namespace, error) {
	ns := NewNamespaceMetadata()
	err := c.Cache.Get(ctx, client.ObjectKey{Name: name}, ns)
	if apierrors.IsNotFound(err) && c.API != nil {
		err = c.API.Get(ctx, client.ObjectKey{Name: name}, ns)
	}
	if err != nil {
		return policy.Namespace{}, err
	}
	return policy.Namespace{Name: name, Labels: ns.Labels, Annotations: ns.Annotations}, nil
}
