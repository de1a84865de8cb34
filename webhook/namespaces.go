package webhook

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// Bounds on the API reads of namespaces the cache has not seen. Anyone who
// can reach the webhook's port can name namespaces that do not exist, and
// each miss would otherwise be a live GET against the API server.
const (
	// NamespaceReadWindow is how long the answer of one API read (found or
	// not) stands in for further reads of the same name.
	NamespaceReadWindow = 2 * time.Second
	// NamespaceReadsPerSecond and NamespaceReadBurst are the replica's
	// shared budget of API reads, over all names.
	NamespaceReadsPerSecond = 5
	NamespaceReadBurst      = 5
	// namespaceReadTimeout bounds one API read: it holds an in-flight slot.
	namespaceReadTimeout = time.Second
	// maxRecentNamespaceReads bounds the remembered answers.
	maxRecentNamespaceReads = 1024
)

// CachedNamespaces reads namespaces' labels and annotations from the
// manager's metadata-only cache. A namespace the cache has not seen yet
// (created an instant before the pod) is read from the API rather than
// treated as unlabelled, at most once per name within NamespaceReadWindow
// (concurrent misses share one read), and all such reads share one rate
// limit.
type CachedNamespaces struct {
	Cache client.Reader // the manager's cache
	API   client.Reader // the manager's APIReader: a live GET

	// Limiter is the shared budget of API reads; nil means
	// NamespaceReadsPerSecond with burst NamespaceReadBurst.
	Limiter *rate.Limiter
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	once     sync.Once
	inflight singleflight.Group
	mu       sync.Mutex
	recent   map[string]namespaceRead
}

// namespaceRead is the answer of one API read.
type namespaceRead struct {
	ns  policy.Namespace
	err error
	at  time.Time
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
	switch {
	case err == nil:
		return policy.Namespace{Name: name, Labels: ns.Labels, Annotations: ns.Annotations}, nil
	case apierrors.IsNotFound(err) && c.API != nil:
		return c.fromAPI(ctx, name)
	default:
		return policy.Namespace{}, err
	}
}

// fromAPI reads a namespace the cache has not seen: from a recent read of
// the same name, else from one shared GET within the rate limit.
func (c *CachedNamespaces) fromAPI(ctx context.Context, name string) (policy.Namespace, error) {
	c.once.Do(func() {
		if c.Limiter == nil {
			c.Limiter = rate.NewLimiter(NamespaceReadsPerSecond, NamespaceReadBurst)
		}
		if c.Now == nil {
			c.Now = time.Now
		}
		c.recent = map[string]namespaceRead{}
	})
	if r, ok := c.recentRead(name); ok {
		return r.ns, r.err
	}
	v, err, _ := c.inflight.Do(name, func() (any, error) {
		if r, ok := c.recentRead(name); ok { // answered while this caller waited
			return r, nil
		}
		r := c.read(ctx, name)
		if r.err == nil || apierrors.IsNotFound(r.err) {
			c.remember(name, r)
		}
		return r, nil
	})
	if err != nil {
		return policy.Namespace{}, err
	}
	r := v.(namespaceRead)
	return r.ns, r.err
}

func (c *CachedNamespaces) read(ctx context.Context, name string) namespaceRead {
	// No waiting for the budget: a waiting request holds an in-flight slot,
	// so a flood of invented names would starve every other review.
	if !c.Limiter.Allow() {
		return namespaceRead{err: fmt.Errorf(
			"namespace %q is not in seccomp-guard's cache yet, and its reads of uncached namespaces are at their limit (%d per second per replica); retry, and if this persists, look for a client sending reviews for namespaces that do not exist",
			name, NamespaceReadsPerSecond)}
	}
	ctx, cancel := context.WithTimeout(ctx, namespaceReadTimeout)
	defer cancel()
	ns := NewNamespaceMetadata()
	if err := c.API.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return namespaceRead{err: err, at: c.Now()}
	}
	return namespaceRead{ns: policy.Namespace{Name: name, Labels: ns.Labels, Annotations: ns.Annotations}, at: c.Now()}
}

func (c *CachedNamespaces) recentRead(name string) (namespaceRead, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recent[name]
	if !ok || c.Now().Sub(r.at) >= NamespaceReadWindow {
		return namespaceRead{}, false
	}
	return r, true
}

// remember keeps r for NamespaceReadWindow. When maxRecentNamespaceReads
// answers are held, expired ones are dropped first; if none has expired
// the new answer is not kept (the rate limit still bounds the reads).
func (c *CachedNamespaces) remember(name string, r namespaceRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.recent) >= maxRecentNamespaceReads {
		now := c.Now()
		for k, v := range c.recent {
			if now.Sub(v.at) >= NamespaceReadWindow {
				delete(c.recent, k)
			}
		}
		if len(c.recent) >= maxRecentNamespaceReads {
			return
		}
	}
	c.recent[name] = r
}
