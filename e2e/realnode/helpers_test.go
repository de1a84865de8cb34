package realnode_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/localcluster"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// agentNamespace holds the agent's heartbeat Lease (the release namespace).
const agentNamespace = "seccomp-guard"

// probeNamespace is where dry-run requests check what the webhook does.
const probeNamespace = "e2e-probe"

// guardState is seccomp-guard wired into the cluster: the webhook, its
// configurations and one agent for the node.
type guardState struct {
	mu        sync.Mutex
	failed    error
	webhook   *framework.Webhook
	agent     *framework.Process
	installed bool
}

// withGuard makes sure seccomp-guard is running and registered, and that the
// webhook knows the node's inventory.
func withGuard(t *testing.T) {
	t.Helper()
	needNode(t)
	g := &guard
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failed != nil {
		t.Fatalf("seccomp-guard did not start earlier: %v", g.failed)
	}
	ctx := context.Background()
	if g.webhook == nil {
		if err := g.start(ctx); err != nil {
			g.failed = err
			t.Fatalf("starting seccomp-guard: %v", err)
		}
	}
	if !g.installed {
		require.NoError(t, framework.InstallWebhookConfigs(ctx, node.Client, g.webhook))
		g.installed = true
		require.NoError(t, waitFor(30*time.Second, "the API server to call the webhook", func() (bool, string) {
			err := dryRun(ctx, unconfinedProbe())
			return err != nil && strings.Contains(err.Error(), "UnconfinedForbidden"), fmt.Sprint(err)
		}))
	}
	// The node's inventory is in the webhook's cache: a profile that no node
	// has is refused as missing (not admitted as on an unknown node).
	require.NoError(t, waitFor(60*time.Second, "the webhook to know the node's inventory", func() (bool, string) {
		err := dryRun(ctx, localhostProbe())
		return err != nil && strings.Contains(err.Error(), "ProfileMissing"), fmt.Sprint(err)
	}), "agent log: %s", g.agent.LogPath)
}

// withoutGuard makes sure no seccomp-guard webhook is registered.
func withoutGuard(t *testing.T) {
	t.Helper()
	needNode(t)
	g := &guard
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.installed {
		return
	}
	ctx := context.Background()
	require.NoError(t, framework.RemoveWebhookConfigs(ctx, node.Client))
	g.installed = false
	require.NoError(t, waitFor(30*time.Second, "the API server to stop calling the webhook", func() (bool, string) {
		err := dryRun(ctx, unconfinedProbe())
		return err == nil, fmt.Sprint(err)
	}))
}

func (g *guardState) start(ctx context.Context) error {
	cp := node.ControlPlane
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: agentNamespace}},
		{ObjectMeta: metav1.ObjectMeta{Name: probeNamespace, Labels: map[string]string{policy.ModeLabel: "enforce"}}},
	} {
		if err := node.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	bin, err := buildGuard()
	if err != nil {
		return err
	}
	probePort, err := framework.FreePort()
	if err != nil {
		return err
	}
	g.agent, err = framework.StartProcess(node.LogDir, "seccomp-guard-agent", bin, "agent",
		"--kubeconfig", cp.Kubeconfig,
		"--node-name", node.NodeName,
		"--seccomp-root", node.SeccompRoot,
		"--namespace", agentNamespace,
		"--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(probePort),
	)
	if err != nil {
		return err
	}
	// The agent publishes the node's inventory and renews its Lease.
	err = waitFor(60*time.Second, "the agent's inventory and Lease", func() (bool, string) {
		if exited, err := g.agent.Exited(); exited {
			return false, fmt.Sprintf("the agent exited: %v", err)
		}
		inv := &v1alpha1.NodeSeccompInventory{}
		if err := node.Client.Get(ctx, client.ObjectKey{Name: node.NodeName}, inv); err != nil {
			return false, err.Error()
		}
		lease := &coordinationv1.Lease{}
		if err := node.Client.Get(ctx, client.ObjectKey{Namespace: agentNamespace, Name: policy.LeaseName(node.NodeName)}, lease); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	if err != nil {
		return fmt.Errorf("%w (agent log %s)", err, g.agent.LogPath)
	}
	if g.webhook, err = framework.StartWebhook(ctx, cp, bin); err != nil {
		return err
	}
	return nil
}

// stop ends the webhook and the agent; their logs stay in the cluster's LogDir.
func (g *guardState) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.agent != nil {
		_ = g.agent.Stop()
	}
	if g.webhook != nil {
		_ = g.webhook.Stop()
	}
}

// waitFor polls f every 250 ms (framework.Poll); on timeout the error
// carries f's last word.
func waitFor(timeout time.Duration, what string, f func() (bool, string)) error {
	return framework.Poll(context.Background(), 250*time.Millisecond, timeout, what, func(context.Context) error {
		if ok, last := f(); !ok {
			return errors.New(last)
		}
		return nil
	})
}

func dryRun(ctx context.Context, obj client.Object) error {
	return node.Client.Create(ctx, obj, client.DryRunAll)
}

func unconfinedProbe() *corev1.Pod {
	p := busyboxPod(probeNamespace, "unconfined-probe", "true")
	p.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
	return p
}

func localhostProbe() *corev1.Pod {
	return localhostPod(probeNamespace, "inventory-probe", "profiles/.no-node-has-this.json", "true")
}

var nsCounter atomic.Int32

// namespace creates a namespace for one test, labelled with mode unless empty.
func namespace(t *testing.T, prefix, mode string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, nsCounter.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if mode != "" {
		ns.Labels[policy.ModeLabel] = mode
	}
	require.NoError(t, node.Client.Create(context.Background(), ns))
	// The ServiceAccount admission plugin refuses pods until
	// kube-controller-manager has created the namespace's default
	// ServiceAccount (it retries for about a second only).
	require.NoError(t, waitFor(30*time.Second, "the default ServiceAccount of namespace "+name, func() (bool, string) {
		err := node.Client.Get(context.Background(), client.ObjectKey{Namespace: name, Name: "default"}, &corev1.ServiceAccount{})
		return err == nil, fmt.Sprint(err)
	}))
	return name
}

// busyboxPod is a pod the node can run: host network, the local busybox
// image (no registry), pinned to the node; script runs in sh.
func busyboxPod(ns, name, script string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       podSpec(script, func(s *corev1.PodSpec) { s.NodeName = node.NodeName }),
	}
}

func podSpec(script string, tweak func(*corev1.PodSpec)) corev1.PodSpec {
	s := corev1.PodSpec{
		HostNetwork:                   true,
		TerminationGracePeriodSeconds: new(int64(1)),
		SecurityContext:               &corev1.PodSecurityContext{},
		Containers: []corev1.Container{{
			Name:            "main",
			Image:           localcluster.BusyboxImage,
			ImagePullPolicy: corev1.PullNever,
			Command:         []string{"sh", "-c", script},
		}},
	}
	if tweak != nil {
		tweak(&s)
	}
	return s
}

// localhostPod is a busybox pod whose pod-level profile is a Localhost one.
func localhostPod(ns, name, profile, script string) *corev1.Pod {
	p := busyboxPod(ns, name, script)
	p.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &profile}
	return p
}

// showSeccomp prints the container's seccomp mode, then keeps it running.
const showSeccomp = "grep Seccomp: /proc/self/status; exec sleep 3600"

// waitPod waits until cond holds for the pod, failing with its status.
func waitPod(t *testing.T, ns, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	err := waitFor(timeout, fmt.Sprintf("pod %s/%s: %s", ns, name, what), func() (bool, string) {
		if err := node.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, pod); err != nil {
			return false, err.Error()
		}
		return cond(pod), describe(pod)
	})
	require.NoError(t, err, "kubelet log: %s", filepath.Join(node.LogDir, "kubelet.log"))
	return pod
}

func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Running == nil {
			return false
		}
	}
	return len(p.Status.ContainerStatuses) > 0
}

// describe summarises a pod's status for failure messages.
func describe(p *corev1.Pod) string {
	parts := []string{"phase " + string(p.Status.Phase)}
	for _, s := range p.Status.ContainerStatuses {
		switch {
		case s.State.Waiting != nil:
			parts = append(parts, fmt.Sprintf("%s waiting: %s: %s", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message))
		case s.State.Running != nil:
			parts = append(parts, s.Name+" running")
		case s.State.Terminated != nil:
			parts = append(parts, fmt.Sprintf("%s terminated: %s (exit %d)", s.Name, s.State.Terminated.Reason, s.State.Terminated.ExitCode))
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			parts = append(parts, fmt.Sprintf("%s: %s", c.Type, c.Message))
		}
	}
	return strings.Join(parts, "; ")
}

// waitLog waits until the container's log (read from the kubelet's pod log
// directory) contains want, and returns the log.
func waitLog(t *testing.T, ns, pod, container, want string) string {
	t.Helper()
	var log string
	err := waitFor(60*time.Second, fmt.Sprintf("%q in the log of %s/%s", want, ns, pod), func() (bool, string) {
		var err error
		log, err = node.PodLog(ns, pod, container)
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(log, want), log
	})
	require.NoError(t, err)
	return log
}

// writeProfile puts a profile from testdata into the node's seccomp root,
// as the Security Profiles Operator or a node image would, and removes it
// when the test ends.
func writeProfile(t *testing.T, testdataFile, path string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", testdataFile))
	require.NoError(t, err)
	dst := filepath.Join(node.SeccompRoot, path)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	// Write and rename, so that the agent never reads half a file.
	tmp := filepath.Join(node.SeccompRoot, ".tmp-"+filepath.Base(path))
	require.NoError(t, os.WriteFile(tmp, data, 0o644))
	require.NoError(t, os.Rename(tmp, dst))
	t.Cleanup(func() { _ = os.Remove(dst) })
}
