package recording_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/recording"
	"github.com/seccomp-guard/seccomp-guard/inventory"
)

// spoModule is the Security Profiles Operator release whose SeccompProfile
// CRD the test installs (cluster-scoped since v0.9; v0.8 served it
// namespaced, which the unit tests cover).
const spoModule = "sigs.k8s.io/security-profiles-operator@v0.9.1"

// spoCRD is the operator's SeccompProfile CRD file in the Go module cache,
// downloaded through the module proxy when the cache lacks it.
func spoCRD(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", spoModule)
	cmd.Dir = t.TempDir() // outside this module: nothing is added to go.sum
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	_ = json.Unmarshal(out, &mod)
	require.NoError(t, err, "go mod download %s: %s %s; the test installs the operator's CRD from its module (GOPROXY must reach it, or GOMODCACHE hold it)", spoModule, mod.Error, out)
	path := filepath.Join(mod.Dir, "deploy", "base-crds", "crds", "seccompprofile.yaml")
	_, err = os.Stat(path)
	require.NoError(t, err, "the SeccompProfile CRD moved in %s", spoModule)
	return path
}

func status(ns, workload, container string, archs []string, syscalls []string, records int64, pods int32, first, last time.Time) v1alpha1.RecordingStatus {
	return v1alpha1.RecordingStatus{Namespace: ns, Workload: workload, Container: container, Architectures: archs, Syscalls: syscalls,
		Records: records, Pods: pods, FirstSeen: &metav1.Time{Time: first}, LastSeen: &metav1.Time{Time: last}}
}

// putInventory creates (or replaces the status of) the node's inventory.
func putInventory(ctx context.Context, t *testing.T, node string, recs ...v1alpha1.RecordingStatus) {
	t.Helper()
	inv := &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: node}}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(inv), inv); err != nil {
		require.NoError(t, k8s.Create(ctx, inv))
	}
	inv.Status = v1alpha1.NodeSeccompInventoryStatus{Runtime: "containerd", Recordings: recs}
	require.NoError(t, k8s.Status().Update(ctx, inv))
}

func TestProfileRecord(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}))
	// Two replicas on node-a, one on node-b; a sidecar only on node-a.
	putInventory(ctx, t, "node-a",
		status("shop", "Deployment/web", "app", []string{"x86_64"}, []string{"accept4", "epoll_wait", "read"}, 120, 2, t0.Add(time.Minute), t0.Add(9*time.Minute)),
		status("shop", "Deployment/web", "sidecar", []string{"x86_64"}, []string{"pause"}, 7, 2, t0, t0.Add(2*time.Minute)))
	putInventory(ctx, t, "node-b",
		status("shop", "Deployment/web", "app", []string{"x86_64"}, []string{"bind", "read", "sendfile"}, 30, 1, t0, t0.Add(5*time.Minute)))

	t.Run("recordings lists the merge", func(t *testing.T) {
		code, stdout, stderr := run(t, "profile", "recordings", "-n", "shop")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, "NAMESPACE  WORKLOAD        CONTAINER  NODES          SYSCALLS  UNNAMED  RECORDS  PODS  LAST SEEN\n"+
			"shop       Deployment/web  app        node-a,node-b  5         0        150      3     2026-12-01T10:09:00Z\n"+
			"shop       Deployment/web  sidecar    node-a         1         0        7        2     2026-12-01T10:02:00Z\n", stdout)
	})

	file := filepath.Join(t.TempDir(), "web-app.json")
	t.Run("to a file", func(t *testing.T) {
		code, stdout, stderr := run(t, "profile", "record", "-n", "shop", "--workload", "Deployment/web", "--container", "app", "-o", file)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "recorded namespace shop, Deployment/web, container app: ")
		assert.Contains(t, stdout, "150 records from 3 pods on 2 nodes (node-a, node-b), last seen 2026-12-01T10:09:00Z\n")
		assert.Contains(t, stdout, "wrote "+file+": copy it under the kubelet's seccomp root on every node")
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, rt := range []inventory.Runtime{inventory.RuntimeContainerd, inventory.RuntimeCRIO} {
			v := inventory.ValidateProfile(data, rt)
			assert.True(t, v.Valid, "%s: %s", rt, v.Reason)
			assert.Equal(t, "SCMP_ACT_ERRNO", v.DefaultAction)
			assert.Empty(t, v.SilentActions)
		}
		var s specs.LinuxSeccomp
		require.NoError(t, json.Unmarshal(data, &s))
		assert.Equal(t, []specs.Arch{specs.ArchX86_64}, s.Architectures)
		assert.Equal(t, []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, s.Flags)
		require.Len(t, s.Syscalls, 1)
		for _, n := range []string{"accept4", "bind", "epoll_wait", "read", "sendfile", "execve", "futex"} {
			assert.Contains(t, s.Syscalls[0].Names, n, "recorded on either node, or the runtime baseline")
		}
		assert.NotContains(t, s.Syscalls[0].Names, "pause", "the sidecar's syscall is not the app's")
	})

	t.Run("nothing recorded", func(t *testing.T) {
		code, _, stderr := run(t, "profile", "record", "-n", "shop", "--workload", "Deployment/api")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "Error: no node has a recording of Deployment/api in namespace shop (the namespace has recordings of Deployment/web); check that the namespace is labelled seccomp-guard.io/recording=enabled")
	})

	t.Run("to a ConfigMap, keeping its other keys", func(t *testing.T) {
		require.NoError(t, k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-seccomp"},
			Data: map[string]string{"README": "profiles of web"}}))
		code, stdout, stderr := run(t, "profile", "record", "-n", "shop", "--workload", "Deployment/web", "--configmap", "web-seccomp")
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "wrote ConfigMap shop/web-seccomp, keys app.json, sidecar.json\n")
		cm := &corev1.ConfigMap{}
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web-seccomp"}, cm))
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, "profiles of web", cm.Data["README"])
		assert.Equal(t, string(data), cm.Data["app.json"], "the same profile as the file")
		assert.Contains(t, cm.Data["sidecar.json"], `"pause"`)
	})

	t.Run("to an SPO SeccompProfile", func(t *testing.T) {
		args := []string{"profile", "record", "-n", "shop", "--workload", "Deployment/web", "--container", "app", "--seccomp-profile", "web-app"}
		code, _, stderr := run(t, args...)
		assert.Equal(t, 1, code)
		assert.Equal(t, "Error: the cluster has no SeccompProfile kind (security-profiles-operator.x-k8s.io/v1beta1): the Security Profiles Operator is not installed; "+
			"install it (https://github.com/kubernetes-sigs/security-profiles-operator), or write the profile with --configmap or --output instead\n", stderr)

		_, err := envtest.InstallCRDs(cp.Config, envtest.CRDInstallOptions{Paths: []string{spoCRD(t)}, ErrorIfPathMissing: true})
		require.NoError(t, err)
		code, stdout, stderr := run(t, args...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "wrote SeccompProfile web-app: once the operator has installed it on the nodes, pods use localhostProfile operator/web-app.json\n")

		// The API server applied the operator's schema (enums, pruning):
		// what it stored is the whole profile, less defaultErrnoRet, which
		// the schema lacks.
		var s specs.LinuxSeccomp
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &s))
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(recording.SeccompProfileGVK)
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: "web-app"}, got))
		spec, _, _ := unstructured.NestedMap(got.Object, "spec")
		names := make([]any, 0, len(s.Syscalls[0].Names))
		for _, n := range s.Syscalls[0].Names {
			names = append(names, n)
		}
		assert.Equal(t, map[string]any{
			"defaultAction": "SCMP_ACT_ERRNO",
			"architectures": []any{"SCMP_ARCH_X86_64"},
			"flags":         []any{"SECCOMP_FILTER_FLAG_LOG"},
			"syscalls":      []any{map[string]any{"action": "SCMP_ACT_ALLOW", "names": names}},
			"disabled":      false, // the operator's schema default
		}, spec)

		// A new recording updates it in place.
		putInventory(ctx, t, "node-b",
			status("shop", "Deployment/web", "app", []string{"x86_64"}, []string{"bind", "read", "sendfile", "splice"}, 40, 1, t0, t0.Add(11*time.Minute)))
		code, _, stderr = run(t, append(args, "--no-log-flag")...)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stderr, "note: without SECCOMP_FILTER_FLAG_LOG the profile's refusals leave no audit record")
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Name: "web-app"}, got))
		names2, _, _ := unstructured.NestedSlice(got.Object, "spec", "syscalls")
		assert.Contains(t, fmt.Sprint(names2), "splice")
		_, hasFlags, _ := unstructured.NestedSlice(got.Object, "spec", "flags")
		assert.False(t, hasFlags, "--no-log-flag leaves the flag out")
	})
}
