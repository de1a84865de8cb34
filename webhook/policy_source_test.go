package webhook

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

func TestPolicyReconciler(t *testing.T) {
	csp := func(generation int64, status v1alpha1.ClusterSeccompPolicyStatus, globs ...string) *v1alpha1.ClusterSeccompPolicy {
		return &v1alpha1.ClusterSeccompPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPolicyName, Generation: generation},
			Spec: v1alpha1.ClusterSeccompPolicySpec{
				DefaultMode: v1alpha1.ModeEnforce,
				Localhost:   v1alpha1.LocalhostPolicy{AllowedProfiles: globs},
			},
			Status: status,
		}
	}
	compiled := func(obj *v1alpha1.ClusterSeccompPolicy) func() *policy.Policy {
		return func() *policy.Policy {
			p, _ := policy.Compile(obj)
			return p
		}
	}
	ready := metav1.Condition{
		Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "Serving",
		Message: "the webhook serves generation 3", ObservedGeneration: 3,
	}
	const brokenGlobMessage = `generation 3 is served, but it has problems (broken globs match nothing; invalid values fall back to their defaults); fix them: ` +
		`spec.localhost.allowedProfiles[1]: Invalid value: "profiles/[": not a valid glob: use path.Match syntax relative to the kubelet's seccomp root, e.g. "operator/*" or "profiles/*.json"`
	valid := csp(3, v1alpha1.ClusterSeccompPolicyStatus{ObservedGeneration: 2}, "operator/*")
	broken := csp(3, v1alpha1.ClusterSeccompPolicyStatus{ObservedGeneration: 2}, "operator/*", "profiles/[")
	served := csp(3, v1alpha1.ClusterSeccompPolicyStatus{ObservedGeneration: 3, Conditions: []metav1.Condition{ready}}, "operator/*")

	tests := []struct {
		name    string
		obj     *v1alpha1.ClusterSeccompPolicy // nil: there is none
		elected bool
		// fallback is PolicyReconciler.Fallback (the --fallback-default-mode).
		fallback v1alpha1.Mode
		funcs    interceptor.Funcs
		// wantServed is what the store serves afterwards.
		wantServed       func() *policy.Policy
		wantStatus       v1alpha1.ClusterSeccompPolicyStatus
		wantStatusWrites int
		wantErr          string
	}{
		{
			name:             "a valid policy is served and Ready for its generation",
			obj:              valid,
			elected:          true,
			wantServed:       compiled(valid),
			wantStatus:       v1alpha1.ClusterSeccompPolicyStatus{ObservedGeneration: 3, Conditions: []metav1.Condition{ready}},
			wantStatusWrites: 1,
		},
		{
			name:       "a broken glob is served, and Ready is false with the problem",
			obj:        broken,
			elected:    true,
			wantServed: compiled(broken),
			wantStatus: v1alpha1.ClusterSeccompPolicyStatus{ObservedGeneration: 3, Conditions: []metav1.Condition{{
				Type: ConditionReady, Status: metav1.ConditionFalse, Reason: "InvalidSpec",
				Message: brokenGlobMessage, ObservedGeneration: 3,
			}}},
			wantStatusWrites: 1,
		},
		{
			name:             "a status that already says so is not written again",
			obj:              served,
			elected:          true,
			wantServed:       compiled(served),
			wantStatus:       served.Status,
			wantStatusWrites: 0,
		},
		{
			name:             "a replica that does not lead serves the policy but leaves its status alone",
			obj:              broken,
			elected:          false,
			wantServed:       compiled(broken),
			wantStatus:       v1alpha1.ClusterSeccompPolicyStatus{ObservedGeneration: 2},
			wantStatusWrites: 0,
		},
		{
			name:       "a deleted policy falls back to the built-in defaults",
			elected:    true,
			wantServed: policy.DefaultPolicy,
		},
		{
			name:     "a deleted policy in a cluster-wide install falls back to enforce",
			elected:  true,
			fallback: v1alpha1.ModeEnforce,
			wantServed: func() *policy.Policy {
				p := policy.DefaultPolicy()
				p.DefaultMode = v1alpha1.ModeEnforce
				return p
			},
		},
		{
			name:             "an existing policy wins over the fallback",
			obj:              valid,
			elected:          true,
			fallback:         v1alpha1.ModeWarn,
			wantServed:       compiled(valid),
			wantStatus:       v1alpha1.ClusterSeccompPolicyStatus{ObservedGeneration: 3, Conditions: []metav1.Condition{ready}},
			wantStatusWrites: 1,
		},
		{
			name:    "a policy that cannot be read leaves the store as it was",
			obj:     valid,
			elected: true,
			funcs: interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
				return errors.New("connection refused")
			}},
			wantServed: func() *policy.Policy { return &policy.Policy{Name: "before"} },
			wantStatus: valid.Status,
			wantErr:    "connection refused",
		},
		{
			name:    "a status that cannot be written is an error that names the policy",
			obj:     valid,
			elected: true,
			funcs: interceptor.Funcs{SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
				return errors.New("conflict")
			}},
			wantServed:       compiled(valid),
			wantStatus:       valid.Status,
			wantStatusWrites: 1,
			wantErr:          `writing status of ClusterSeccompPolicy "default": conflict`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			statusWrites := 0
			funcs := tc.funcs
			patch := funcs.SubResourcePatch
			funcs.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				statusWrites++
				if patch != nil {
					return patch(ctx, c, sub, obj, p, opts...)
				}
				return c.SubResource(sub).Patch(ctx, obj, p, opts...)
			}
			// The test reads the result back past tc.funcs.Get.
			reconciled := false
			if get := funcs.Get; get != nil {
				funcs.Get = func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if reconciled {
						return c.Get(ctx, key, obj, opts...)
					}
					return get(ctx, c, key, obj, opts...)
				}
			}
			builder := fake.NewClientBuilder().WithScheme(scheme.Scheme).
				WithStatusSubresource(&v1alpha1.ClusterSeccompPolicy{}).
				WithInterceptorFuncs(funcs)
			if tc.obj != nil {
				builder = builder.WithObjects(tc.obj.DeepCopy())
			}
			c := builder.Build()
			store := NewPolicyStore()
			store.Set(&policy.Policy{Name: "before"})
			r := &PolicyReconciler{Client: c, Store: store, Leader: fixedLeader(tc.elected)}
			if tc.fallback != "" {
				fb, err := FallbackPolicy(tc.fallback)
				require.NoError(t, err)
				r.Fallback = fb
			}

			_, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: v1alpha1.DefaultPolicyName}})
			reconciled = true
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantServed(), store.Current(), "served policy")
			assert.Equal(t, tc.wantStatusWrites, statusWrites, "status writes")
			if tc.obj == nil {
				return
			}
			got := &v1alpha1.ClusterSeccompPolicy{}
			require.NoError(t, c.Get(context.Background(), client.ObjectKey{Name: v1alpha1.DefaultPolicyName}, got))
			for i := range got.Status.Conditions {
				got.Status.Conditions[i].LastTransitionTime = metav1.Time{}
			}
			assert.Equal(t, tc.wantStatus, got.Status, "status")
		})
	}
}

func TestFallbackPolicy(t *testing.T) {
	tests := []struct {
		name     string
		mode     v1alpha1.Mode
		wantMode v1alpha1.Mode
		wantErr  string
	}{
		{name: "empty: the built-in default", wantMode: v1alpha1.DefaultMode},
		{name: "enforce (cluster-wide)", mode: v1alpha1.ModeEnforce, wantMode: v1alpha1.ModeEnforce},
		{name: "disabled (opt-in)", mode: v1alpha1.ModeDisabled, wantMode: v1alpha1.ModeDisabled},
		{name: "not a mode", mode: "Enforce", wantErr: `--fallback-default-mode "Enforce" is not a mode: use one of [disabled audit warn enforce]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FallbackPolicy(tc.mode)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			want := policy.DefaultPolicy()
			want.DefaultMode = tc.wantMode
			assert.Equal(t, want, p, "the built-in defaults but for defaultMode")
		})
	}
}

// fixedLeader leads or not, for good.
type fixedLeader bool

func (l fixedLeader) Leading() bool { return bool(l) }
