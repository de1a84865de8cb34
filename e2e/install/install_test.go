package install_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	openreportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/cli"
	"github.com/seccomp-guard/seccomp-guard/internal/localcluster"
	"github.com/seccomp-guard/seccomp-guard/internal/reporter"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// release is the Helm release's name in every mode; each mode installs
// into a namespace of its own.
const release = "seccomp-guard"

// helm runs the pinned helm against the node's cluster.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+node.Kubeconfig, "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helm %s:\n%s", strings.Join(args, " "), out)
	t.Logf("helm %s", strings.Join(args, " "))
	return string(out)
}

// valuesFile writes values as a values file.
func valuesFile(t *testing.T, values map[string]any) string {
	t.Helper()
	b, err := json.Marshal(values)
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), "values.json")
	require.NoError(t, os.WriteFile(f, b, 0o600))
	return f
}

// baseValues are the values every install uses on this node: its seccomp
// root (the kubelet runs with a temporary --root-dir), no link targets
// (the default would create the Security Profiles Operator's directory on
// this machine), and the mode.
func baseValues(mode string, hybrid bool) map[string]any {
	return map[string]any{
		"hybrid":       map[string]any{"enabled": hybrid},
		"certificates": map[string]any{"mode": mode},
		"agent":        map[string]any{"seccompRoot": node.SeccompRoot, "linkTargets": []string{}},
	}
}

// releaseNamespace creates the release namespace with the Pod Security
// Admission label its pods need (docs/install.md).
func releaseNamespace(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	require.NoError(t, node.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"},
	}}))
}

// waitInstalled waits until the webhook Deployment has 2 available
// replicas, the agent DaemonSet runs on the node and the node's inventory
// is published.
func waitInstalled(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	err := framework.Poll(ctx, time.Second, 3*time.Minute, "the chart's pods to run", func(ctx context.Context) error {
		var dep appsv1.Deployment
		if err := node.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: release + "-webhook"}, &dep); err != nil {
			return err
		}
		if dep.Status.AvailableReplicas != 2 || dep.Status.UpdatedReplicas != 2 {
			return fmt.Errorf("webhook Deployment: %d available, %d updated of 2", dep.Status.AvailableReplicas, dep.Status.UpdatedReplicas)
		}
		// As its own ServiceAccount, so the chart's RBAC is what is tested.
		if sa := dep.Spec.Template.Spec.ServiceAccountName; sa != release+"-webhook" {
			return framework.Abort(fmt.Errorf("the webhook runs as ServiceAccount %q, want %q", sa, release+"-webhook"))
		}
		var ds appsv1.DaemonSet
		if err := node.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: release + "-agent"}, &ds); err != nil {
			return err
		}
		if ds.Status.NumberReady != 1 {
			return fmt.Errorf("agent DaemonSet: %d ready of 1", ds.Status.NumberReady)
		}
		var inv v1alpha1.NodeSeccompInventory
		return node.Client.Get(ctx, client.ObjectKey{Name: node.NodeName}, &inv)
	})
	require.NoError(t, err, "pods in %s:\n%s", ns, describePods(ctx, ns))
}

func describePods(ctx context.Context, ns string) string {
	var pods corev1.PodList
	if err := node.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "  %s: %s", p.Name, p.Status.Phase)
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				fmt.Fprintf(&b, " %s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message)
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil {
				fmt.Fprintf(&b, " %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// busybox is a pod that prints its seccomp mode and sleeps.
func busybox(ns, name string, sp *corev1.SeccompProfile) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64(0)),
			Containers: []corev1.Container{{
				Name: "main", Image: localcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", "grep Seccomp: /proc/self/status; exec sleep 3600"},
			}},
		},
	}
	if sp != nil {
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: sp}
	}
	return pod
}

func waitRunning(ctx context.Context, t *testing.T, ns, name string) {
	t.Helper()
	err := framework.Poll(ctx, 500*time.Millisecond, 2*time.Minute, "pod "+ns+"/"+name+" to run", func(ctx context.Context) error {
		var pod corev1.Pod
		if err := node.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod); err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", pod.Status.Phase)
		}
		return nil
	})
	require.NoError(t, err, "pods in %s:\n%s", ns, describePods(ctx, ns))
}

// story runs, through the installed chart, what seccomp-guard is for.
func story(ctx context.Context, t *testing.T, releaseNS, tag string) {
	ns := "story-" + tag
	require.NoError(t, node.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{policy.ModeLabel: "enforce"},
	}}))
	t.Cleanup(func() { deletePods(ctx, ns) })

	t.Run("a pod without a profile is defaulted and runs filtered", func(t *testing.T) {
		pod := busybox(ns, "defaulted", nil)
		require.NoError(t, node.Client.Create(ctx, pod))
		require.NotNil(t, pod.Spec.SecurityContext)
		require.NotNil(t, pod.Spec.SecurityContext.SeccompProfile, "the admission chain set a profile")
		assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.Spec.SecurityContext.SeccompProfile.Type)
		waitRunning(ctx, t, ns, pod.Name)
		err := framework.Poll(ctx, 500*time.Millisecond, time.Minute, "the container's log", func(context.Context) error {
			log, err := node.PodLog(ns, pod.Name, "main")
			if err != nil {
				return err
			}
			if !strings.Contains(log, "Seccomp:\t2") {
				return fmt.Errorf("log %q has no Seccomp: 2", log)
			}
			return nil
		})
		require.NoError(t, err)
	})

	t.Run("Unconfined is refused", func(t *testing.T) {
		err := node.Client.Create(ctx, busybox(ns, "unconfined", &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}))
		require.Error(t, err)
		assert.True(t, apierrors.IsForbidden(err) || apierrors.IsInvalid(err), "%v", err)
		assert.Contains(t, err.Error(), "Unconfined")
	})

	t.Run("a missing Localhost profile is refused, then admitted once it is on the node", func(t *testing.T) {
		profile := "profiles/install-" + tag + ".json"
		pod := busybox(ns, "localhost", &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &profile})
		err := node.Client.Create(ctx, pod.DeepCopy())
		require.Error(t, err)
		assert.True(t, apierrors.IsForbidden(err), "%v", err)
		assert.Contains(t, err.Error(), "ProfileMissing")
		assert.Contains(t, err.Error(), node.NodeName, "the denial names the node")

		file := filepath.Join(node.SeccompRoot, profile)
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		require.NoError(t, os.WriteFile(file, []byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},{"names":["*"],"action":"SCMP_ACT_ALLOW"}]}`), 0o644))
		t.Cleanup(func() { _ = os.Remove(file) })
		start := time.Now()
		err = framework.Poll(ctx, 250*time.Millisecond, time.Minute, "the pod to be admitted", func(ctx context.Context) error {
			return node.Client.Create(ctx, pod.DeepCopy(), client.DryRunAll)
		})
		require.NoError(t, err)
		t.Logf("admitted %s after the profile was written", time.Since(start).Round(100*time.Millisecond))
		require.NoError(t, node.Client.Create(ctx, pod))
		waitRunning(ctx, t, ns, pod.Name)
	})

	t.Run("kube-system and the release namespace are never intercepted", func(t *testing.T) {
		for _, n := range []string{"kube-system", releaseNS} {
			err := node.Client.Create(ctx, busybox(n, "unconfined", &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}), client.DryRunAll)
			assert.NoError(t, err, "an Unconfined pod in %s", n)
		}
	})
}

func deletePods(ctx context.Context, ns string) {
	_ = node.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))
	_ = framework.Poll(ctx, 500*time.Millisecond, time.Minute, "pods in "+ns+" to be deleted", func(ctx context.Context) error {
		var pods corev1.PodList
		if err := node.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("%d pods left", len(pods.Items))
		}
		return nil
	})
}

// creator creates dry-run pods in an enforced namespace every 100 ms
// until stopped, counting failures: what a user sees during an upgrade or
// an uninstall.
type creator struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	stop       chan struct{}
	done       chan struct{}
}

func startCreating(ctx context.Context, ns string) *creator {
	c := &creator{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			pod := busybox(ns, fmt.Sprintf("loop-%d", i), &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault})
			if err := node.Client.Create(ctx, pod, client.DryRunAll); err != nil {
				c.failed.Add(1)
				c.mu.Lock()
				c.failures = append(c.failures, err.Error())
				c.mu.Unlock()
				continue
			}
			c.ok.Add(1)
		}
	}()
	return c
}

func (c *creator) finish(t *testing.T, what string) {
	t.Helper()
	close(c.stop)
	<-c.done
	t.Logf("%s: %d pod creations admitted, %d failed", what, c.ok.Load(), c.failed.Load())
	assert.Positive(t, c.ok.Load(), "pods were created during %s", what)
	assert.Zero(t, c.failed.Load(), "failed pod creations during %s: %v", what, c.failures)
}

// leftovers lists the release's admission objects still in the cluster.
func leftovers(ctx context.Context, t *testing.T) []string {
	t.Helper()
	var left []string
	for _, gvk := range cli.AdmissionKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		err := node.Client.List(ctx, list, client.MatchingLabels{"app.kubernetes.io/instance": release})
		require.NoError(t, err)
		for _, o := range list.Items {
			left = append(left, gvk.Kind+" "+o.GetName())
		}
	}
	return left
}

// uninstall removes the release while pods are being created, checks
// that nothing of its admission path is left, and removes what stays on
// purpose (docs/install.md), so that the next mode starts clean.
func uninstall(ctx context.Context, t *testing.T, releaseNS, storyNS string) {
	t.Helper()
	loop := startCreating(ctx, storyNS)
	helm(t, "uninstall", release, "--namespace", releaseNS, "--wait", "--timeout", "3m")
	time.Sleep(2 * time.Second) // and after
	loop.finish(t, "helm uninstall")
	assert.Empty(t, leftovers(ctx, t), "admission objects left behind by helm uninstall")

	// What stays on purpose.
	err := node.Client.Delete(ctx, &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	require.NoError(t, client.IgnoreNotFound(err))
	deletePods(ctx, releaseNS)
	deletePods(ctx, storyNS)
}

// TestInstall installs the chart in every certificate mode, with and
// without hybrid mode, and runs the story through it.
func TestInstall(t *testing.T) {
	needNode(t)
	for _, tc := range []struct {
		mode     string
		hybrid   bool
		reporter bool
	}{
		{mode: "self-managed", reporter: true},
		{mode: "cert-manager"},
		{mode: "secret"},
		{mode: "self-managed", hybrid: true},
		{mode: "cert-manager", hybrid: true},
		{mode: "secret", hybrid: true},
	} {
		name := tc.mode
		if tc.hybrid {
			name += "-hybrid"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			releaseNS := "sg-" + name
			releaseNamespace(ctx, t, releaseNS)
			values := baseValues(tc.mode, tc.hybrid)
			if tc.mode == "secret" {
				values["certificates"] = providedSecret(ctx, t, releaseNS)
			}
			if tc.reporter {
				values["reporter"] = map[string]any{"enabled": true, "installCRDs": true}
			}
			helm(t, "install", release, chartDir, "--namespace", releaseNS, "--values", valuesFile(t, values), "--wait", "--timeout", "4m")
			waitInstalled(ctx, t, releaseNS)
			story(ctx, t, releaseNS, name)
			if tc.reporter {
				reports(ctx, t, "story-"+name)
			}
			uninstall(ctx, t, releaseNS, "story-"+name)
		})
	}
}

// providedSecret creates the kubernetes.io/tls Secret of mode secret,
// signed by a CA of the test's own, and returns the certificates values.
func providedSecret(ctx context.Context, t *testing.T, ns string) map[string]any {
	t.Helper()
	ca, err := framework.NewCA()
	require.NoError(t, err)
	svc := release + "-webhook"
	crt, key, err := ca.ServingCertFor([]string{svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"})
	require.NoError(t, err)
	require.NoError(t, node.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "webhook-tls"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}))
	return map[string]any{"mode": "secret", "secret": map[string]any{"name": "webhook-tls", "caBundle": string(ca.CertPEM)}}
}

// reports checks the chart's reporter, with its own RBAC, on the real
// node: the story's namespace has its report, in which the running pod
// whose Localhost profile the story deleted from the node fails twice:
// ProfileGone (its next restart fails) and ProfileMissing (created again, it
// would be denied); the policy's status has the ladder.
func reports(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	err := framework.Poll(ctx, time.Second, 2*time.Minute, "the story's report", func(ctx context.Context) error {
		r := &openreportsv1alpha1.Report{}
		if err := node.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: reporter.ReportName}, r); err != nil {
			return err
		}
		got := map[string]string{}
		for _, res := range r.Results {
			got[res.Subjects[0].Kind+"/"+res.Subjects[0].Name+" "+res.Rule] = string(res.Result)
		}
		want := map[string]string{
			"Pod/defaulted ProfileSet":     "pass",
			"Pod/localhost ProfileMissing": "fail", // created again, it would be denied
			"Pod/localhost ProfileGone":    "fail",
		}
		if !assert.ObjectsAreEqual(want, got) {
			return fmt.Errorf("results %v; want %v", got, want)
		}
		return nil
	})
	require.NoError(t, err, describePods(ctx, ns))
	err = framework.Poll(ctx, time.Second, time.Minute, "the ladder in the policy's status", func(ctx context.Context) error {
		csp := &v1alpha1.ClusterSeccompPolicy{}
		if err := node.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.DefaultPolicyName}, csp); err != nil {
			return err
		}
		if csp.Status.Ladder == nil || csp.Status.Ladder.Enforce.Namespaces < 1 {
			return fmt.Errorf("status.ladder %+v; want the story's namespace at enforce", csp.Status.Ladder)
		}
		return nil
	})
	require.NoError(t, err)
}
