package framework

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/policy"
)

// WaitWebhookActive waits until the API server calls the registered webhook:
// a dry-run Unconfined pod in an enforce namespace (e2e-probe, created here)
// is refused with UnconfinedForbidden.
func WaitWebhookActive(ctx context.Context, c client.Client) error {
	ns := "e2e-probe"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{policy.ModeLabel: "enforce"}}}); err != nil {
		return err
	}
	return Poll(ctx, 200*time.Millisecond, 30*time.Second, "the API server to call the webhook", func(ctx context.Context) error {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}, Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
			Containers:      []corev1.Container{{Name: "c", Image: "registry.example/c"}},
		}}
		err := c.Create(ctx, pod, client.DryRunAll)
		switch {
		case err == nil:
			return errors.New("a dry-run Unconfined pod in an enforce namespace was admitted, want UnconfinedForbidden")
		case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "UnconfinedForbidden"):
			return nil
		}
		return fmt.Errorf("a dry-run Unconfined pod in an enforce namespace: want UnconfinedForbidden, got %w", err)
	})
}
