package native_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/native"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// When the native MutatingAdmissionPolicy does not run (here: its binding is
// gone), a pod without a profile reaches the validating policies unset:
// enforce denies it with ProfileNotSet, with the engine's validating-stage
// message (Request.Final), and warn warns.
func TestProfileNotSetWithoutMutatingPolicy(t *testing.T) {
	ctx := context.Background()
	binding := native.Build(prefix).MutatingPolicyBindings[0]
	require.NoError(t, cp.Client.Delete(ctx, binding.DeepCopy()))
	t.Cleanup(func() {
		b := binding.DeepCopy()
		require.NoError(t, cp.Client.Create(ctx, b))
		require.NoError(t, framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the mutating policy to default again", func(ctx context.Context) error {
			p := pod()("probe-enforce").(*corev1.Pod)
			p.Name = ""
			p.GenerateName = "probe-"
			if err := k8s.Create(ctx, p, client.DryRunAll); err != nil {
				return err
			}
			if p.Spec.SecurityContext == nil || p.Spec.SecurityContext.SeccompProfile == nil {
				return fmt.Errorf("not defaulted yet")
			}
			return nil
		}))
	})

	for _, mode := range []string{"enforce", "warn"} {
		t.Run(mode, func(t *testing.T) {
			nsName := fmt.Sprintf("notset-%s", mode)
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName, Labels: map[string]string{policy.ModeLabel: mode}}}
			require.NoError(t, cp.Client.Create(ctx, ns))
			obj := pod()(nsName)

			p, errs := policy.Compile(params)
			require.Empty(t, errs)
			d := policy.Evaluate(p, nil, policy.Request{
				Operation: admissionv1.Create, Username: testUser, Final: true, Object: obj,
				Namespace: policy.Namespace{Name: nsName, Labels: ns.Labels},
			})
			require.Len(t, d.Violations, 1)
			require.Equal(t, policy.ReasonProfileNotSet, d.Violations[0].Reason)

			var err error
			var ws []string
			require.NoError(t, framework.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the mutating policy to stop running", func(ctx context.Context) error {
				got := obj.DeepCopyObject().(client.Object)
				warnings.Take()
				err = k8s.Create(ctx, got, client.DryRunAll)
				ws = nativeWarnings(warnings.Take())
				if (err != nil && strings.Contains(err.Error(), "ProfileNotSet")) || len(ws) > 0 {
					return nil
				}
				return fmt.Errorf("err=%w warnings=%q", err, ws)
			}))
			assert.Equal(t, d.Allowed(), err == nil, "verdict: engine allowed=%v, API server error=%v", d.Allowed(), err)
			if mode == "enforce" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), fmt.Sprintf("ValidatingAdmissionPolicy '%s-enforce'", prefix))
				assert.Contains(t, err.Error(), d.Messages()[0])
				return
			}
			assert.Equal(t, d.ResponseWarnings(), ws)
		})
	}
}
