package imagebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/internal/images"
)

// The skip contract of the real-node suites (e2e/framework's skip.go on
// the branch that adds it): a skip prints "SKIP: ..." and is recorded in
// $SECCOMP_GUARD_SKIP_DIR for `make test`'s summary; CI=true or
// REQUIRE_REALNODE=1 turns it into a failure.
const (
	skipDirEnv         = "SECCOMP_GUARD_SKIP_DIR"
	requireRealNodeEnv = "REQUIRE_REALNODE"
	skipSuite          = "internal/imagebuild (TestCtrImport)"
)

// requireContainerd skips (or fails, where skipping is not allowed) unless
// this machine can run containerd: root, containerd, ctr, the runc shim.
func requireContainerd(t *testing.T) {
	t.Helper()
	var missing []string
	for _, bin := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	reason := ""
	switch {
	case len(missing) > 0:
		reason = fmt.Sprintf("%s not found in $PATH: the OCI archive of make image was not imported into containerd; run `make node-deps` as root (Debian's containerd and runc)",
			strings.Join(missing, ", "))
	case os.Geteuid() != 0:
		reason = "not root: containerd needs root, so the OCI archive of make image was not imported into containerd; run the tests as root"
	default:
		return
	}
	if why := mustNotSkip(); why != "" {
		t.Fatalf("FAIL: %s must run (%s), but: %s", skipSuite, why, reason)
	}
	fmt.Fprintf(os.Stderr, "SKIP: %s: %s\n", skipSuite, reason)
	if dir := os.Getenv(skipDirEnv); dir != "" {
		line := skipSuite + ": " + reason + "\n"
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("recording the skip in %s=%s: %v", skipDirEnv, dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "internal_imagebuild.skip"), []byte(line), 0o644); err != nil {
			t.Fatalf("recording the skip in %s=%s: %v", skipDirEnv, dir, err)
		}
	}
	t.Skip(reason)
}

// mustNotSkip says why skipping is forbidden, or "".
func mustNotSkip() string {
	if os.Getenv("CI") == "true" {
		return "CI=true"
	}
	v := os.Getenv(requireRealNodeEnv)
	if v == "" {
		return ""
	}
	if required, err := strconv.ParseBool(v); err != nil || required {
		return requireRealNodeEnv + "=" + v
	}
	return ""
}

// containerd is a private containerd: every path under dir, no CRI plugin.
type containerd struct {
	dir, socket string
	cmd         *exec.Cmd
	log         *bytes.Buffer
}

func startContainerd(t *testing.T) *containerd {
	t.Helper()
	dir, err := os.MkdirTemp("", "seccomp-guard-imagebuild-containerd-")
	require.NoError(t, err)
	c := &containerd{dir: dir, socket: filepath.Join(dir, "containerd.sock"), log: &bytes.Buffer{}}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.socket, c.socket+".ttrpc", filepath.Join(dir, "opt"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600))
	c.cmd = exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, c.cmd.Start())
	t.Cleanup(func() { c.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.ctr(context.Background(), "version"); err == nil {
			return c
		} else if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer on %s within 30s: %v\n%s", c.socket, err, c.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ctr runs ctr against c in the CRI namespace, as the node's kubelet sees
// images.
func (c *containerd) ctr(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", c.socket, "--namespace", "k8s.io"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// stop ends containerd, unmounts what is left under its directory and
// removes it.
func (c *containerd) stop(t *testing.T) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		var under []string
		for _, line := range strings.Split(string(mounts), "\n") {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], c.dir+"/") {
				under = append(under, f[4])
			}
		}
		for i := len(under) - 1; i >= 0; i-- {
			if err := syscall.Unmount(under[i], syscall.MNT_DETACH); err != nil {
				t.Errorf("unmounting %s: %v", under[i], err)
			}
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Errorf("removing containerd's directory: %v", err)
	}
}

// The OCI archive imports with `ctr -n k8s.io images import` under the
// image's reference, and runs: the entrypoint, as 65532:65532.
func TestCtrImport(t *testing.T) {
	requireContainerd(t)
	res := hostBuild(t)
	c := startContainerd(t)
	ctx := t.Context()

	_, err := c.ctr(ctx, "images", "import", res.OCIArchive)
	require.NoError(t, err)
	out, err := c.ctr(ctx, "images", "ls", "-q")
	require.NoError(t, err)
	assert.Equal(t, []string{res.Reference}, strings.Fields(out), "images after the import")
	want, err := res.Index.Digest()
	require.NoError(t, err)
	out, err = c.ctr(ctx, "images", "ls", "name=="+res.Reference)
	require.NoError(t, err)
	assert.Contains(t, out, want.String(), "the image's target is the index make image built")

	const id = "imagebuild-test"
	out, err = c.ctr(ctx, "run", "--runc-root", filepath.Join(c.dir, "runc"), res.Reference, id)
	require.NoError(t, err, "%s\ncontainerd log:\n%s", out, c.log)
	defer func() {
		if _, err := c.ctr(context.Background(), "containers", "delete", id); err != nil {
			t.Errorf("deleting the container: %v", err)
		}
	}()
	// The entrypoint alone runs the root command, which prints its usage.
	assert.Contains(t, out, "\n  seccomp-guard [command]\n", "the output of the image's entrypoint")

	info, err := c.ctr(ctx, "containers", "info", id)
	require.NoError(t, err)
	var container struct {
		Spec struct {
			Process struct {
				User struct {
					UID uint32 `json:"uid"`
					GID uint32 `json:"gid"`
				} `json:"user"`
				Args []string `json:"args"`
			} `json:"process"`
		} `json:"Spec"`
	}
	require.NoError(t, json.Unmarshal([]byte(info), &container), "%s", info)
	assert.Equal(t, []string{"/seccomp-guard"}, container.Spec.Process.Args)
	assert.Equal(t, [2]uint32{UID, GID}, [2]uint32{container.Spec.Process.User.UID, container.Spec.Process.User.GID})
}

func TestMustNotSkip(t *testing.T) {
	cases := []struct {
		name, ci, require, want string
	}{
		{name: "nothing set"},
		{name: "CI", ci: "true", want: "CI=true"},
		{name: "REQUIRE_REALNODE=1", require: "1", want: "REQUIRE_REALNODE=1"},
		{name: "REQUIRE_REALNODE=0", require: "0"},
		{name: "a typo does not turn the requirement off", require: "yes", want: "REQUIRE_REALNODE=yes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv(requireRealNodeEnv, tc.require)
			assert.Equal(t, tc.want, mustNotSkip())
		})
	}
}

// The local cluster's images (internal/images: pause, busybox), built with
// the same library, import under their names and run.
func TestCtrImportLocalClusterImages(t *testing.T) {
	requireContainerd(t)
	if testing.Short() {
		t.Skip("compiles the pause program")
	}
	busybox, err := images.FindBusybox()
	if err != nil {
		if why := mustNotSkip(); why != "" {
			t.Fatalf("FAIL: %s must run (%s), but: %v", skipSuite, why, err)
		}
		t.Skipf("SKIP: %v", err)
	}
	dir := t.TempDir()
	pause, err := images.Pause(filepath.Join("..", ".."), dir)
	require.NoError(t, err)
	bb, err := images.Busybox(busybox)
	require.NoError(t, err)
	c := startContainerd(t)
	ctx := t.Context()
	for name, data := range map[string][]byte{"pause.tar": pause, "busybox.tar": bb} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		_, err := c.ctr(ctx, "images", "import", p)
		require.NoError(t, err)
	}
	out, err := c.ctr(ctx, "images", "ls", "-q")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{images.PauseImage, images.BusyboxImage}, strings.Fields(out))

	out, err = c.ctr(ctx, "run", "--rm", "--runc-root", filepath.Join(c.dir, "runc"), images.BusyboxImage, "busybox-test", "sh", "-c", "echo hello from $(id -u)")
	require.NoError(t, err, "%s\ncontainerd log:\n%s", out, c.log)
	assert.Equal(t, "hello from 0\n", out)
}
