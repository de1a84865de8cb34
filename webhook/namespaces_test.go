package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

func TestCachedNamespaces(t *testing.T) {
	ns := func(name, mode string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{policy.ModeLabel: mode},
			Annotations: map[string]string{"note": name + "-" + mode},
		}}
	}
	brokenCache := interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
		return errors.New("the cache is broken")
	}}
	tests := []struct {
		name string
		// cache and api hold these namespaces.
		cache, api []client.Object
		// cacheFuncs intercept the cache's reads.
		cacheFuncs interceptor.Funcs
		// noAPI leaves CachedNamespaces.API nil.
		noAPI        bool
		get          string
		want         policy.Namespace
		wantErr      string
		wantAPICalls int
	}{
		{
			name:         "a namespace in the cache is read from the cache only",
			cache:        []client.Object{ns("shop", "enforce")},
			api:          []client.Object{ns("shop", "audit")},
			get:          "shop",
			want:         policy.Namespace{Name: "shop", Labels: map[string]string{policy.ModeLabel: "enforce"}, Annotations: map[string]string{"note": "shop-enforce"}},
			wantAPICalls: 0,
		},
		{
			name:         "a namespace the cache has not seen yet is read from the API",
			api:          []client.Object{ns("fresh", "warn")},
			get:          "fresh",
			want:         policy.Namespace{Name: "fresh", Labels: map[string]string{policy.ModeLabel: "warn"}, Annotations: map[string]string{"note": "fresh-warn"}},
			wantAPICalls: 1,
		},
		{
			name:         "a namespace in neither is the API's NotFound",
			cache:        []client.Object{ns("shop", "enforce")},
			api:          []client.Object{ns("shop", "enforce")},
			get:          "ghost",
			wantErr:      `namespaces "ghost" not found`,
			wantAPICalls: 1,
		},
		{
			name:    "without an API reader a cache miss is the cache's NotFound",
			noAPI:   true,
			get:     "fresh",
			wantErr: `namespaces "fresh" not found`,
		},
		{
			name:         "a cache failure other than NotFound is returned without asking the API",
			cache:        []client.Object{ns("shop", "enforce")},
			cacheFuncs:   brokenCache,
			api:          []client.Object{ns("shop", "enforce")},
			get:          "shop",
			wantErr:      `the cache is broken`,
			wantAPICalls: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			apiCalls := 0
			countAPI := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				apiCalls++
				return c.Get(ctx, key, obj, opts...)
			}}
			c := &CachedNamespaces{
				Cache: fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(tc.cache...).WithInterceptorFuncs(tc.cacheFuncs).Build(),
			}
			if !tc.noAPI {
				c.API = fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(tc.api...).WithInterceptorFuncs(countAPI).Build()
			}
			got, err := c.Namespace(context.Background(), tc.get)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.want, got, "namespace")
			assert.Equal(t, tc.wantAPICalls, apiCalls, "API reads")
		})
	}
}

// TestUncachedNamespaceReadsAreBounded proves that namespaces the cache has
// not seen cost at most one API read per name within NamespaceReadWindow,
// and that all such reads share one rate limit.
func TestUncachedNamespaceReadsAreBounded(t *testing.T) {
	newReader := func(limiter *rate.Limiter, now func() time.Time) (*CachedNamespaces, *atomic.Int64) {
		var calls atomic.Int64
		count := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			calls.Add(1)
			return c.Get(ctx, key, obj, opts...)
		}}
		fresh := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh", Labels: map[string]string{policy.ModeLabel: "enforce"}}}
		return &CachedNamespaces{
			Cache:   fake.NewClientBuilder().WithScheme(scheme.Scheme).Build(),
			API:     fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(fresh).WithInterceptorFuncs(count).Build(),
			Limiter: limiter,
			Now:     now,
		}, &calls
	}

	t.Run("one read per name within the window, found or not", func(t *testing.T) {
		clock := time.Unix(1e9, 0)
		c, calls := newReader(nil, func() time.Time { return clock })
		for range 10 {
			ns, err := c.Namespace(context.Background(), "fresh")
			require.NoError(t, err)
			assert.Equal(t, "enforce", ns.Labels[policy.ModeLabel])
			_, err = c.Namespace(context.Background(), "ghost")
			require.EqualError(t, err, `namespaces "ghost" not found`)
		}
		assert.Equal(t, int64(2), calls.Load(), "API reads within the window")

		clock = clock.Add(NamespaceReadWindow)
		_, err := c.Namespace(context.Background(), "fresh")
		require.NoError(t, err)
		assert.Equal(t, int64(3), calls.Load(), "API reads once the window has passed")
	})

	t.Run("concurrent misses of one name share one read", func(t *testing.T) {
		c, calls := newReader(nil, nil)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				_, err := c.Namespace(context.Background(), "fresh")
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.LessOrEqual(t, calls.Load(), int64(2), "API reads for 50 concurrent misses")
	})

	t.Run("distinct names share the rate limit", func(t *testing.T) {
		// A budget of 3 reads that never refills within the test.
		c, calls := newReader(rate.NewLimiter(rate.Every(time.Hour), 3), nil)
		var limited int
		for i := range 20 {
			_, err := c.Namespace(context.Background(), fmt.Sprintf("random-%d", i))
			require.Error(t, err)
			if !apierrors.IsNotFound(err) {
				limited++
				assert.EqualError(t, err, fmt.Sprintf(`namespace "random-%d" is not in seccomp-guard's cache yet, and its reads of uncached namespaces are at their limit (5 per second per replica); retry, and if this persists, look for a client sending reviews for namespaces that do not exist`, i))
			}
		}
		assert.Equal(t, int64(3), calls.Load(), "API reads")
		assert.Equal(t, 17, limited, "reads refused by the limit")
	})
}
