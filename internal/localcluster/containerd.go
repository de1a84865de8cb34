package localcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/seccomp-guard/seccomp-guard/e2e/framework"
	"github.com/seccomp-guard/seccomp-guard/internal/images"
)

// criNamespace is the containerd namespace of the CRI plugin (the kubelet's).
const criNamespace = "k8s.io"

// containerdConfig is containerd's configuration: every path under dir
// (network namespaces too) but the CNI plugins (CNIBinDir), the CRI plugin's
// sandbox image the locally built pause image, and
// restrict_oom_score_adj (without CAP_SYS_RESOURCE every sandbox fails with
// "can't get final child's PID from pipe: EOF"; docs/testing.md). The runc
// runtime's shim runs the runc binary at runc (Cluster.Runc.Path).
func containerdConfig(dir, runc string) string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = %[5]q
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = %[6]q
      conf_dir = %[7]q
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = %[10]q
          Root = %[8]q
          SystemdCgroup = false
  [plugins."io.containerd.internal.v1.opt"]
    path = %[9]q
`,
		filepath.Join(dir, "root"), filepath.Join(dir, "state"),
		filepath.Join(dir, "containerd.sock"), filepath.Join(dir, "containerd.sock.ttrpc"),
		images.PauseImage,
		CNIBinDir, filepath.Join(dir, "cni", "net.d"),
		filepath.Join(dir, "runc"), filepath.Join(dir, "opt"),
		runc,
	)
}

func (c *Cluster) startContainerd(ctx context.Context) error {
	dir := filepath.Dir(c.Socket)
	for _, d := range []string{dir, filepath.Join(dir, "cni", "net.d")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return err
		}
	}
	config := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(config, []byte(containerdConfig(dir, c.Runc.Path)), 0o600); err != nil {
		return err
	}
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return err
	}
	if c.containerd, err = c.startProcess("containerd", bin, "--config", config); err != nil {
		return err
	}
	return poll(ctx, 30*time.Second, func() (bool, error) {
		if exited, err := c.containerd.Exited(); exited {
			return false, fmt.Errorf("containerd exited (%s); log %s", exitStatus(err), c.containerd.LogPath)
		}
		_, err := c.Ctr(ctx, "version")
		return err == nil, nil
	}, "containerd to answer on "+c.Socket)
}

// Ctr runs ctr against the node's containerd in the CRI namespace (k8s.io)
// and returns its standard output.
func (c *Cluster) Ctr(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.ctr, append([]string{"--address", c.Socket, "--namespace", criNamespace}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// importImage loads an OCI archive into the CRI namespace.
func (c *Cluster) importImage(ctx context.Context, archive string) error {
	_, err := c.Ctr(ctx, "images", "import", archive)
	return err
}

// ImportImage loads an image archive (an OCI layout or docker-archive tar,
// e.g. what `make image` writes) into the node's containerd, in the
// namespace the kubelet uses, so that pods run it with imagePullPolicy:
// Never (or IfNotPresent) under the name the archive gives it (the OCI
// index's io.containerd.image.name annotation, or the docker-archive's
// RepoTags). Of a multi-platform index, the machine's platform is
// unpacked. It returns the names of the images now in containerd whose
// content came from the archive, as `ctr images import` prints them.
func (c *Cluster) ImportImage(ctx context.Context, archive string) ([]string, error) {
	out, err := c.Ctr(ctx, "images", "import", archive)
	if err != nil {
		return nil, fmt.Errorf("importing %s into the node's containerd: %w", archive, err)
	}
	// "unpacking <name> (sha256:...)...done"
	var names []string
	for _, l := range lines(out) {
		if rest, ok := strings.CutPrefix(l, "unpacking "); ok {
			if name, _, ok := strings.Cut(rest, " "); ok {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

// buildImages writes the pause and busybox image archives into dir/images.
func buildImages(dir string) ([]string, error) {
	root, err := framework.RepoRoot()
	if err != nil {
		return nil, err
	}
	imgDir := filepath.Join(dir, "images")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return nil, err
	}
	pause, err := images.Pause(root, imgDir)
	if err != nil {
		return nil, err
	}
	busyboxBin, err := images.FindBusybox()
	if err != nil {
		return nil, err
	}
	busybox, err := images.Busybox(busyboxBin)
	if err != nil {
		return nil, err
	}
	var out []string
	for name, data := range map[string][]byte{"pause.tar": pause, "busybox.tar": busybox} {
		p := filepath.Join(imgDir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// lines splits ctr -q output.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// removeContainers kills and deletes every task and container of the CRI
// namespace (pods' containers and sandboxes), so that their shims exit and
// their rootfs mounts go away, while containerd still runs.
func (c *Cluster) removeContainers() error {
	ctx := context.Background()
	out, err := c.Ctr(ctx, "tasks", "ls", "-q")
	if err != nil {
		return err
	}
	tasks := lines(out)
	for _, id := range tasks {
		_, _ = c.Ctr(ctx, "tasks", "kill", "--signal", "SIGKILL", id)
	}
	var errs []string
	for _, id := range tasks {
		// A killed task needs a moment to be reaped before it can be deleted.
		err := poll(ctx, 10*time.Second, func() (bool, error) {
			_, err := c.Ctr(ctx, "tasks", "delete", "--force", id)
			return err == nil || strings.Contains(err.Error(), "not found"), nil
		}, "task "+id+" to be deleted")
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if out, err = c.Ctr(ctx, "containers", "ls", "-q"); err != nil {
		return err
	}
	for _, id := range lines(out) {
		if _, err := c.Ctr(ctx, "containers", "delete", id); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// ContainersOfPod returns the containerd IDs of a pod's containers and
// sandbox (by the labels the CRI plugin sets).
func (c *Cluster) ContainersOfPod(ctx context.Context, namespace, pod string) ([]string, error) {
	out, err := c.Ctr(ctx, "containers", "ls", "-q",
		"labels.\"io.kubernetes.pod.namespace\"=="+namespace+",labels.\"io.kubernetes.pod.name\"=="+pod)
	if err != nil {
		return nil, err
	}
	return lines(out), nil
}
