package inventory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

type podTweak func(*corev1.Pod)

// pod is a pod in the test namespace.
func pod(name string, tweaks ...podTweak) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
	for _, t := range tweaks {
		t(p)
	}
	return p
}

func localhost(profile string) podTweak {
	return func(p *corev1.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{
			Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &profile,
		}}
	}
}

func pinned(node string) podTweak {
	return func(p *corev1.Pod) { p.Spec.NodeName = node }
}

func selector(key, value string) podTweak {
	return func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{key: value} }
}

func tolerate(key string) podTweak {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	}
}

// verdict is what a dry-run create of a pod got: nil when admitted.
type verdict struct {
	err      error
	warnings []string
}

var (
	warnOnce    sync.Once
	warnClient  client.Client
	warnHandler *framework.Warnings
)

// tryPod creates the pod with dryRun=All and collects the API server's
// warnings. Tests run one at a time, so one client serves them all.
func tryPod(t *testing.T, p *corev1.Pod) verdict {
	t.Helper()
	warnOnce.Do(func() {
		var err error
		warnClient, warnHandler, err = framework.ClientWithWarnings(cp.Config)
		require.NoError(t, err)
	})
	warnHandler.Take()
	err := warnClient.Create(context.Background(), p, client.DryRunAll)
	return verdict{err: err, warnings: warnHandler.Take()}
}

// eventuallyAdmitted waits until the pod is admitted with exactly the given
// warnings: the agents and the webhook's informers need a moment to carry a
// change on a node to the request path.
func eventuallyAdmitted(t *testing.T, p *corev1.Pod, wantWarnings ...string) {
	t.Helper()
	var last verdict
	ok := assert.Eventually(t, func() bool {
		last = tryPod(t, p.DeepCopy())
		return last.err == nil && assert.ObjectsAreEqual(nilIfEmpty(wantWarnings), nilIfEmpty(last.warnings))
	}, 20*time.Second, 100*time.Millisecond)
	if !ok {
		t.Fatalf("pod %s: want admitted with warnings %q\ngot error: %v\ngot warnings: %q", p.Name, wantWarnings, last.err, last.warnings)
	}
}

// eventuallyDenied waits until the pod is refused with exactly message.
func eventuallyDenied(t *testing.T, p *corev1.Pod, message string) {
	t.Helper()
	want := `admission webhook "validate.seccomp-guard.io" denied the request: pod "` + p.Name + `" is forbidden by seccomp-guard: ` + message
	var last verdict
	ok := assert.Eventually(t, func() bool {
		last = tryPod(t, p.DeepCopy())
		return last.err != nil && apierrors.IsForbidden(last.err) && last.err.Error() == want
	}, 20*time.Second, 100*time.Millisecond)
	if !ok {
		t.Fatalf("pod %s: want denied with\n  %s\ngot: %v", p.Name, want, last.err)
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func mustNoError(t *testing.T, err error) {
	t.Helper()
	require.NoError(t, err)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, timeout, 100*time.Millisecond, "waiting until %s", what)
}
