package webhook_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

var nsCounter atomic.Int32

// namespace creates a namespace in a mode ("" for no label) with optional annotations.
func namespace(t *testing.T, mode string, annotations map[string]string) string {
	t.Helper()
	label := mode
	if label == "" {
		label = "unlabelled"
	}
	name := fmt.Sprintf("e2e-%s-%d", label, nsCounter.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}, Annotations: annotations}}
	if mode != "" {
		ns.Labels[policy.ModeLabel] = mode
	}
	require.NoError(t, k8s.Create(context.Background(), ns))
	return name
}

type podTweak func(*corev1.Pod)

func newPod(ns, name string, tweaks ...podTweak) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "sidecar", Image: "envoy"}},
		},
	}
	for _, t := range tweaks {
		t(p)
	}
	return p
}

func podLevel(typ corev1.SeccompProfileType) podTweak {
	return func(p *corev1.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: typ}}
	}
}

func containerLevel(i int, typ corev1.SeccompProfileType) podTweak {
	return func(p *corev1.Pod) {
		p.Spec.Containers[i].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: typ}}
	}
}

func initLevel(typ corev1.SeccompProfileType) podTweak {
	return func(p *corev1.Pod) {
		p.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: typ}}
	}
}

// warningClient is a client whose warnings the test reads.
func warningClient(t *testing.T) (client.Client, *framework.Warnings) {
	t.Helper()
	c, w, err := framework.ClientWithWarnings(cp.Config)
	require.NoError(t, err)
	return c, w
}

// userClient impersonates a user.
func userClient(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:masters"}}
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	require.NoError(t, err)
	return c
}

// auditAnnotations waits for the audit events of an object and returns the
// annotations of the last one.
func auditAnnotations(t *testing.T, resource, ns, name string) map[string]string {
	t.Helper()
	var events []framework.AuditEvent
	require.Eventually(t, func() bool {
		var err error
		events, err = cp.AuditEvents(resource, ns, name)
		return err == nil && len(events) > 0
	}, 10*time.Second, 100*time.Millisecond, "no audit event for %s %s/%s", resource, ns, name)
	return events[len(events)-1].Annotations
}
