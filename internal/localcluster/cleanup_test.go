package localcluster

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNamesPath(t *testing.T) {
	for _, tc := range []struct {
		s, path string
		want    bool
	}{
		{"containerd --config /tmp/x-1/containerd/config.toml", "/tmp/x-1", true},
		{"etcd --data-dir=/tmp/x-1", "/tmp/x-1", true},
		{"etcd --data-dir=/tmp/x-12", "/tmp/x-1", false},
		{"shim -address /tmp/x-12/sock -address /tmp/x-1/sock", "/tmp/x-1", true},
		{"0::/k8s.io/abc\n", "/abc", true},
		{"0::/k8s.io/abcd\n", "/abc", false},
		{"", "/tmp/x-1", false},
	} {
		assert.Equal(t, tc.want, namesPath(tc.s, tc.path), "%q in %q", tc.path, tc.s)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	assert.Equal(t, "/tmp/a b", unescapeMountinfo(`/tmp/a\040b`))
	assert.Equal(t, "/tmp/plain", unescapeMountinfo("/tmp/plain"))
	assert.Equal(t, `/tmp/\x`, unescapeMountinfo(`/tmp/\x`))
}

// The settings found necessary on the development machine (docs/testing.md).
func TestContainerdConfig(t *testing.T) {
	cfg := containerdConfig("/tmp/n/containerd", "/src/bin/runc")
	for _, want := range []string{
		`restrict_oom_score_adj = true`,
		`sandbox_image = "` + PauseImage + `"`,
		`root = "/tmp/n/containerd/root"`,
		`state = "/tmp/n/containerd/state"`,
		`address = "/tmp/n/containerd/containerd.sock"`,
		`Root = "/tmp/n/containerd/runc"`,
		`BinaryName = "/src/bin/runc"`,
		`conf_dir = "/tmp/n/containerd/cni/net.d"`,
		`bin_dir = "/usr/lib/cni"`,
		`netns_mounts_under_state_dir = true`,
	} {
		assert.Contains(t, cfg, want)
	}
	assert.NotContains(t, cfg, "/var/lib/containerd")
	assert.NotContains(t, cfg, "/etc/cni")
}

func TestKubeletConfig(t *testing.T) {
	c := &Cluster{Dir: "/tmp/n", Socket: "/tmp/n/containerd/containerd.sock", PodLogsDir: "/tmp/n/pod-logs"}
	cfg := kubeletConfig(c, 10250, 10248)
	for _, want := range []string{
		"failCgroupV1: false", "cgroupDriver: cgroupfs", "cgroupsPerQOS: false", "enforceNodeAllocatable: []",
		"failSwapOn: false", "address: 127.0.0.1", "healthzBindAddress: 127.0.0.1",
		"containerRuntimeEndpoint: unix:///tmp/n/containerd/containerd.sock",
		"podLogsDir: /tmp/n/pod-logs", "nodefs.available: 1%",
		"makeIPTablesUtilChains: false",
	} {
		assert.Contains(t, cfg, want)
	}
	assert.False(t, strings.Contains(cfg, "%!"), "format error in:\n%s", cfg)
}
