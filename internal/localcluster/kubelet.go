package localcluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
)

// kubeletConfig is the KubeletConfiguration (docs/testing.md): cgroup v1 with
// cgroupfs and no per-QoS cgroups, no swap check, loopback-only ports,
// podLogsDir and volume plugins under dir, image garbage collection and
// disk-pressure eviction out of the way of a test run, and no iptables
// chains (the kubelet would leave its KUBE-FIREWALL and canary chains on the
// host; network.go adds the one protection that matters here).
func kubeletConfig(c *Cluster, port, healthzPort int) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: %d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://%s
imageServiceEndpoint: unix://%s
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failCgroupV1: false
failSwapOn: false
podLogsDir: %s
volumePluginDir: %s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
serializeImagePulls: false
makeIPTablesUtilChains: false
rotateCertificates: false
serverTLSBootstrap: false
shutdownGracePeriod: 0s
`, port, healthzPort, c.Socket, c.Socket, c.PodLogsDir, filepath.Join(c.Dir, "volume-plugins"))
}

func (c *Cluster) startKubelet(ctx context.Context) error {
	for _, d := range []string{c.KubeletRootDir, c.SeccompRoot, c.PodLogsDir, filepath.Join(c.Dir, "volume-plugins")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	kc, err := c.kubeconfigFor("system:node:"+c.NodeName, "system:nodes", "system:masters")
	if err != nil {
		return err
	}
	var ports [2]int
	for i := range ports {
		if ports[i], err = framework.FreePort(); err != nil {
			return err
		}
	}
	config := filepath.Join(c.Dir, "kubelet-config.yaml")
	if err := os.WriteFile(config, []byte(kubeletConfig(c, ports[0], ports[1])), 0o600); err != nil {
		return err
	}
	c.kubelet, err = c.startProcess("kubelet", filepath.Join(c.assets, "kubelet"),
		"--config="+config,
		"--kubeconfig="+kc,
		"--root-dir="+c.KubeletRootDir,
		"--cert-dir="+filepath.Join(c.Dir, "kubelet-pki"),
		"--hostname-override="+c.NodeName,
		"--v=2",
	)
	if err != nil {
		return err
	}
	err = poll(ctx, 120*time.Second, func() (bool, error) {
		if exited, err := c.kubelet.Exited(); exited {
			return false, fmt.Errorf("the kubelet exited (%s); log %s", exitStatus(err), c.kubelet.LogPath)
		}
		node, err := c.Node(ctx)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return node.Status.NodeInfo.ContainerRuntimeVersion != "", nil
	}, "node "+c.NodeName+" to register")
	if err != nil {
		return err
	}
	// Ready once containerd has loaded the CNI configuration.
	var last string
	err = poll(ctx, 60*time.Second, func() (bool, error) {
		if exited, err := c.kubelet.Exited(); exited {
			return false, fmt.Errorf("the kubelet exited (%s); log %s", exitStatus(err), c.kubelet.LogPath)
		}
		node, err := c.Node(ctx)
		if err != nil {
			return false, err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				last = fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message)
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	}, "node "+c.NodeName+" to be Ready")
	if err != nil {
		return fmt.Errorf("%w (last: %s; see %s and %s)", err, last, c.kubelet.LogPath, c.containerd.LogPath)
	}
	return c.untaintNotReady(ctx)
}

// untaintNotReady removes the node.kubernetes.io/not-ready taint, which the
// API server's TaintNodesByCondition admission puts on every new Node and
// the node-lifecycle controller removes once the node is Ready. The node is
// Ready, but that controller does not run (DefaultControllers), so without
// this kube-scheduler places no pod on it.
func (c *Cluster) untaintNotReady(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := c.Node(ctx)
		if err != nil {
			return err
		}
		var keep []corev1.Taint
		for _, t := range node.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(node.Spec.Taints) {
			return nil
		}
		node.Spec.Taints = keep
		return c.Client.Update(ctx, node)
	})
}

// PodLog returns what a pod's container wrote, read from the kubelet's pod
// log directory (the API server cannot reach a kubelet on loopback, so
// `kubectl logs` does not work). Lines are the text of the CRI
// log format ("TIME STREAM TAG text"), every restart's log in order.
func (c *Cluster) PodLog(namespace, pod, container string) (string, error) {
	files, err := filepath.Glob(filepath.Join(c.PodLogsDir, namespace+"_"+pod+"_*", container, "*.log"))
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("no log of container %s of pod %s/%s under %s", container, namespace, pod, c.PodLogsDir)
	}
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return "", err
		}
		s := bufio.NewScanner(fh)
		s.Buffer(make([]byte, 64*1024), 1024*1024)
		for s.Scan() {
			// 2026-11-27T08:30:06.906824672Z stdout F text
			parts := strings.SplitN(s.Text(), " ", 4)
			if len(parts) == 4 {
				b.WriteString(parts[3])
				if parts[2] == "F" {
					b.WriteByte('\n')
				}
			}
		}
		fh.Close()
		if err := s.Err(); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// logLinks lists the links the kubelet left in /var/log/containers that
// point into this cluster's pod log directory.
func (c *Cluster) logLinks() []string {
	if c.PodLogsDir == "" {
		return nil
	}
	entries, _ := os.ReadDir(containerLogsDir)
	var out []string
	for _, e := range entries {
		p := filepath.Join(containerLogsDir, e.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, c.PodLogsDir+"/") {
			out = append(out, "container log link "+p)
		}
	}
	return out
}

// removeLogLinks removes the kubelet's links into this cluster's pod logs
// (/var/log/containers itself is one of the host paths).
func (c *Cluster) removeLogLinks() error {
	if c.PodLogsDir == "" {
		return nil
	}
	entries, _ := os.ReadDir(containerLogsDir)
	for _, e := range entries {
		p := filepath.Join(containerLogsDir, e.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, c.PodLogsDir+"/") {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}
