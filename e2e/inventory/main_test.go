// Package inventory_test drives the node inventory end to end: Node objects in
// a real kube-apiserver, one real `seccomp-guard agent` process per node over
// its own seccomp root, and the real webhook deciding from what the agents
// report.
package inventory_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

const (
	// releaseNamespace holds the agents' Leases (the webhook's --inventory-namespace).
	releaseNamespace = "seccomp-guard"
	// testNamespace is where the test pods go, in enforce mode.
	testNamespace = "e2e-inventory"
	// leaseDuration is short so that a stopped agent goes stale quickly.
	leaseDuration = 2 * time.Second
)

// testNode is one Node and the seccomp root its agent reads.
type testNode struct {
	name   string
	labels map[string]string
	taints []corev1.Taint
	// files are written under the seccomp root before the agent starts.
	files map[string]string
	// hostRoot runs the agent with --host-root (a fake host's /) and the
	// seccomp root at its default path inside it.
	hostRoot bool

	root  string // the seccomp root as the test writes it
	agent *framework.Process
}

var (
	cp    *framework.ControlPlane
	wh    *framework.Webhook
	k8s   client.Client
	bin   string
	nodes = map[string]*testNode{}
)

// The cluster: node-a and node-b form the web pool; node-c is dedicated to
// databases (tainted). node-a has the web profile, a broken one and an
// allow-by-default one; node-b has nothing yet; node-c has the web profile
// and the Security Profiles Operator's link to another host directory.
func cluster() []*testNode {
	return []*testNode{
		{
			name:   "node-a",
			labels: map[string]string{"pool": "web", "zone": "a"},
			files: map[string]string{
				"profiles/web.json":   validProfile,
				"profiles/bad.json":   unknownActionProfile,
				"profiles/allow.json": allowProfile,
			},
		},
		{
			name:   "node-b",
			labels: map[string]string{"pool": "web", "zone": "b"},
		},
		{
			name:     "node-c",
			labels:   map[string]string{"pool": "db", "zone": "b"},
			taints:   []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}},
			hostRoot: true,
			files: map[string]string{
				"profiles/web.json": validProfile,
				// The operator's link, resolved inside the host root.
				"@operator": "/var/lib/security-profiles-operator",
				"/var/lib/security-profiles-operator/spo.json": validProfile,
			},
		},
	}
}

func TestMain(m *testing.M) {
	os.Exit(framework.Main(m, framework.Suite{Setup: setUp, Processes: processes}))
}

// setUp creates the Nodes, starts the webhook and one agent per node, and
// registers the webhook.
func setUp(ctx context.Context, c *framework.ControlPlane) (err error) {
	cp, k8s = c, c.Client
	if bin, err = framework.BuildBinary(cp.Dir); err != nil {
		return err
	}
	if err := setUpCluster(ctx); err != nil {
		return err
	}
	if wh, err = framework.StartWebhook(ctx, cp, bin); err != nil {
		return err
	}
	for _, n := range nodes {
		if err := startAgent(n, "agent-"+n.name); err != nil {
			return err
		}
	}
	if err := framework.InstallWebhookConfigs(ctx, k8s, wh); err != nil {
		return err
	}
	return waitReady(ctx)
}

// processes are the webhook and the agents running now.
func processes() []*framework.Process {
	var ps []*framework.Process
	if wh != nil {
		ps = append(ps, wh.Process)
	}
	for _, n := range cluster() {
		if tn := nodes[n.name]; tn != nil && tn.agent != nil {
			ps = append(ps, tn.agent)
		}
	}
	return ps
}

// setUpCluster creates the namespaces, the Nodes (with the runtime their
// kubelet would report) and each node's seccomp root.
func setUpCluster(ctx context.Context) error {
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: releaseNamespace}},
		{ObjectMeta: metav1.ObjectMeta{Name: testNamespace, Labels: map[string]string{policy.ModeLabel: "enforce"}}},
	} {
		if err := k8s.Create(ctx, ns); err != nil {
			return err
		}
	}
	for _, n := range cluster() {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: n.labels}, Spec: corev1.NodeSpec{Taints: n.taints}}
		if err := k8s.Create(ctx, node); err != nil {
			return err
		}
		// Nodes created through the API report no runtime: say containerd,
		// as a kubelet would.
		patch := client.MergeFrom(node.DeepCopy())
		node.Status.NodeInfo.ContainerRuntimeVersion = "containerd://1.7.0"
		if err := k8s.Status().Patch(ctx, node, patch); err != nil {
			return fmt.Errorf("patching the status of Node %s: %w", n.name, err)
		}

		dir := filepath.Join(cp.Dir, n.name)
		n.root = filepath.Join(dir, "seccomp")
		if n.hostRoot {
			n.root = filepath.Join(dir, "host", "var/lib/kubelet/seccomp")
		}
		if err := os.MkdirAll(n.root, 0o755); err != nil {
			return err
		}
		for name, content := range n.files {
			var err error
			switch {
			case strings.HasPrefix(name, "@"): // a symbolic link
				err = os.Symlink(content, filepath.Join(n.root, name[1:]))
			case strings.HasPrefix(name, "/"): // elsewhere on the host
				err = writeFile(filepath.Join(dir, "host", name), content)
			default:
				err = writeFile(filepath.Join(n.root, name), content)
			}
			if err != nil {
				return err
			}
		}
		nodes[n.name] = n
	}
	return nil
}

func writeFile(p, content string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

// startAgent runs `seccomp-guard agent` for a node.
func startAgent(n *testNode, name string) error {
	port, err := framework.FreePort()
	if err != nil {
		return err
	}
	args := []string{"agent",
		"--kubeconfig", cp.Kubeconfig,
		"--node-name", n.name,
		"--namespace", releaseNamespace,
		"--lease-duration", leaseDuration.String(),
		"--resync", "1m",
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(port),
		"--zap-log-level", "debug",
	}
	if n.hostRoot {
		args = append(args, "--host-root", filepath.Join(cp.Dir, n.name, "host"), "--seccomp-root", "/var/lib/kubelet/seccomp")
	} else {
		args = append(args, "--seccomp-root", n.root)
	}
	n.agent, err = framework.StartProcess(cp.Dir, name, bin, args...)
	return err
}

// waitReady waits until the webhook is called and every agent's inventory
// and heartbeat reached it: a pod pinned to each node, with a profile the
// node has (or, for node-b, lacks), gets the verdict that proves it.
func waitReady(ctx context.Context) error {
	return framework.Poll(ctx, 200*time.Millisecond, 60*time.Second, "the webhook to see every node's inventory", func(ctx context.Context) error {
		var last error
		for node, want := range map[string]bool{"node-a": true, "node-b": false, "node-c": true} {
			err := k8s.Create(ctx, pod("ready-"+node, pinned(node), localhost("profiles/web.json")), client.DryRunAll)
			switch {
			case want && err != nil:
				last = fmt.Errorf("pinned to %s: %w", node, err)
			case !want && err == nil:
				last = fmt.Errorf("pinned to %s: admitted, want ProfileMissing", node)
			case !want && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "ProfileMissing")):
				last = fmt.Errorf("pinned to %s: want ProfileMissing, got %w", node, err)
			}
		}
		if last == nil {
			return nil
		}
		for _, p := range processes() {
			if exited, err := p.Exited(); exited {
				return framework.Abort(fmt.Errorf("%s exited: %w\n%s", p.Name, err, p.Log()))
			}
		}
		return last
	})
}

// The profiles the tests put on nodes.
const (
	validProfile = `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
  "syscalls": [{"names": ["read", "write", "exit_group", "futex"], "action": "SCMP_ACT_ALLOW"}]
}
`
	unknownActionProfile = `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "syscalls": [
    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["ptrace"], "action": "SCMP_ACT_KILLME"}
  ]
}
`
	allowProfile = `{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]
}
`
)

// setPolicy makes the ClusterSeccompPolicy "default" hold localhost and
// waits until the webhook serves that generation.
func setPolicy(t *testing.T, localhost v1alpha1.LocalhostPolicy) {
	t.Helper()
	ctx := context.Background()
	pol := &v1alpha1.ClusterSeccompPolicy{}
	err := k8s.Get(ctx, client.ObjectKey{Name: "default"}, pol)
	switch {
	case apierrors.IsNotFound(err):
		pol = &v1alpha1.ClusterSeccompPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.ClusterSeccompPolicySpec{Localhost: localhost}}
		mustNoError(t, k8s.Create(ctx, pol))
	case err != nil:
		t.Fatal(err)
	default:
		pol.Spec.Localhost = localhost
		mustNoError(t, k8s.Update(ctx, pol))
	}
	waitFor(t, 15*time.Second, "the webhook serves the new policy", func() bool {
		got := &v1alpha1.ClusterSeccompPolicy{}
		return k8s.Get(ctx, client.ObjectKey{Name: "default"}, got) == nil &&
			got.Generation == pol.Generation && got.Status.ObservedGeneration == got.Generation
	})
}
