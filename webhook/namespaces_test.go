package webhook

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
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
