package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
)

func TestProfileCommands(t *testing.T) {
	seen := &metav1.Time{Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	inv := func(node string, recs ...v1alpha1.RecordingStatus) *v1alpha1.NodeSeccompInventory {
		return &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: node}, Status: v1alpha1.NodeSeccompInventoryStatus{Recordings: recs}}
	}
	rec := func(workload, container string, syscalls ...string) v1alpha1.RecordingStatus {
		return v1alpha1.RecordingStatus{Namespace: "shop", Workload: workload, Container: container, Architectures: []string{"x86_64"},
			Syscalls: syscalls, Records: 5, Pods: 1, LastSeen: seen}
	}
	objs := []client.Object{
		inv("n1", rec("Deployment/web", "app", "accept4", "read"), rec("Deployment/web", "sidecar", "nanosleep")),
		inv("n2", rec("Deployment/web", "app", "write")),
	}
	saved := profileClient
	profileClient = func(string) (client.Client, error) {
		return fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).WithStatusSubresource(&v1alpha1.NodeSeccompInventory{}).Build(), nil
	}
	t.Cleanup(func() { profileClient = saved })
	dir := t.TempDir()

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings
		wantStderr string   // exact, when set
		wantErrHas string
		wantNoPath string // a path that must not exist afterwards
	}{
		{name: "one container to stdout", args: []string{"profile", "record", "-n", "shop", "--workload", "Deployment/web", "--container", "app"},
			wantStdout: []string{"{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n", "\"accept4\",", "\"write\""},
			wantStderr: "recorded namespace shop, Deployment/web, container app: 62 syscalls allowed (3 recorded, 59 runtime baseline), 10 records from 2 pods on 2 nodes (n1, n2), last seen 2026-12-01T10:00:00Z\n"},
		{name: "every container to a directory", args: []string{"profile", "record", "-n", "shop", "--workload", "Deployment/web", "-o", dir + "/"},
			wantStdout: []string{"recorded namespace shop, Deployment/web, container sidecar: ",
				"wrote " + filepath.Join(dir, "app.json") + ", " + filepath.Join(dir, "sidecar.json") + ": copy them under the kubelet's seccomp root on every node"}},
		{name: "configmap", args: []string{"profile", "record", "-n", "shop", "--workload", "Deployment/web", "--configmap", "web-seccomp"},
			wantStdout: []string{"wrote ConfigMap shop/web-seccomp, keys app.json, sidecar.json\n"}},
		{name: "no SPO, nothing written", args: []string{"profile", "record", "-n", "shop", "--workload", "Deployment/web", "--container", "app", "--seccomp-profile", "web",
			"-o", filepath.Join(dir, "nospo") + "/"},
			wantCode: exitError, wantNoPath: filepath.Join(dir, "nospo"),
			wantErrHas: "Error: the cluster has no SeccompProfile kind (security-profiles-operator.x-k8s.io/v1beta1): the Security Profiles Operator is not installed; install it (https://github.com/kubernetes-sigs/security-profiles-operator), or write the profile with --configmap or --output instead\n"},
		{name: "several containers to stdout", args: []string{"profile", "record", "-n", "shop", "--workload", "Deployment/web"},
			wantCode:   exitError,
			wantStderr: "Error: Deployment/web has recordings of 2 containers (app, sidecar), and stdout takes one profile: give --container for one of them, or a directory to --output (one <container>.json each)\n"},
		{name: "nothing recorded", args: []string{"profile", "record", "-n", "shop", "--workload", "Deployment/api"},
			wantCode:   exitError,
			wantErrHas: "Error: no node has a recording of Deployment/api in namespace shop (the namespace has recordings of Deployment/web); check that the namespace is labelled seccomp-guard.io/recording=enabled"},
		{name: "workload required", args: []string{"profile", "record", "-n", "shop"}, wantCode: exitUsage,
			wantStderr: "Error: no workload: give --workload with the recorded pods' top-level owner as Kind/name, e.g. Deployment/web (seccomp-guard profile recordings lists them)\nRun 'seccomp-guard profile record --help' for usage.\n"},
		{name: "bad workload", args: []string{"profile", "record", "--workload", "web"}, wantCode: exitUsage,
			wantStderr: "Error: --workload \"web\" is not Kind/name: give the pods' top-level owner as the recordings name it, e.g. Deployment/web or Pod/debug (seccomp-guard profile recordings lists them)\nRun 'seccomp-guard profile record --help' for usage.\n"},
		{name: "configmap key without configmap", args: []string{"profile", "record", "--workload", "Deployment/web", "--configmap-key", "a.json"}, wantCode: exitUsage,
			wantStderr: "Error: --configmap-key \"a.json\" needs --configmap: give the ConfigMap to write the key to\nRun 'seccomp-guard profile record --help' for usage.\n"},
		{name: "bad configmap", args: []string{"profile", "record", "--workload", "Deployment/web", "--configmap", "a/b/c"}, wantCode: exitUsage,
			wantStderr: "Error: --configmap \"a/b/c\" is not [namespace/]name, e.g. web-seccomp or shop/web-seccomp\nRun 'seccomp-guard profile record --help' for usage.\n"},
		{name: "recordings", args: []string{"profile", "recordings"},
			wantStdout: []string{"NAMESPACE  WORKLOAD        CONTAINER  NODES  SYSCALLS  UNNAMED  RECORDS  PODS  LAST SEEN\n" +
				"shop       Deployment/web  app        n1,n2  3         0        10       2     2026-12-01T10:00:00Z\n" +
				"shop       Deployment/web  sidecar    n1     1         0        5        1     2026-12-01T10:00:00Z\n"}},
		{name: "recordings of another namespace", args: []string{"profile", "recordings", "-n", "prod"},
			wantStdout: []string{"no recordings in the NodeSeccompInventories (status.recordings); docs/recording.md says how to record a workload\n"}},
		{name: "recordings json", args: []string{"profile", "recordings", "-o", "json"},
			wantStdout: []string{"    \"nodes\": [\n      \"n1\",\n      \"n2\"\n    ],"}},
		{name: "recordings bad output", args: []string{"profile", "recordings", "-o", "yaml"}, wantCode: exitUsage,
			wantStderr: "Error: unknown output format \"yaml\" for --output: use text or json\nRun 'seccomp-guard profile recordings --help' for usage.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tt.args...)
			require.Equal(t, tt.wantCode, code, stderr)
			for _, s := range tt.wantStdout {
				assert.Contains(t, stdout, s)
			}
			if tt.wantStderr != "" {
				assert.Equal(t, tt.wantStderr, stderr)
			}
			if tt.wantErrHas != "" {
				assert.True(t, strings.HasPrefix(stderr, tt.wantErrHas), "stderr: %s", stderr)
			}
			if tt.wantNoPath != "" {
				assert.NoFileExists(t, tt.wantNoPath)
				assert.NoDirExists(t, tt.wantNoPath)
			}
		})
	}
}
