package recording

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/seccomp-guard/seccomp-guard/internal/scheme"
)

func profilesOf(t *testing.T, containers ...string) []*Profile {
	t.Helper()
	var out []*Profile
	for _, c := range containers {
		p, err := Build(Recording{Namespace: "shop", Workload: "Deployment/web", Container: c, Nodes: []string{"n1"},
			Architectures: []string{"x86_64"}, Syscalls: []string{"read", c}}, Options{})
		require.NoError(t, err)
		out = append(out, p)
	}
	return out
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "existing"), 0o755))
	tests := []struct {
		name       string
		containers []string
		output     string
		wantWrote  []string
		wantStdout bool
		wantErr    string
	}{
		{name: "stdout", containers: []string{"app"}, output: "-", wantWrote: []string{"stdout"}, wantStdout: true},
		{name: "one file", containers: []string{"app"}, output: filepath.Join(dir, "web.json"), wantWrote: []string{filepath.Join(dir, "web.json")}},
		{name: "existing directory", containers: []string{"app", "sidecar"}, output: filepath.Join(dir, "existing"),
			wantWrote: []string{filepath.Join(dir, "existing", "app.json"), filepath.Join(dir, "existing", "sidecar.json")}},
		{name: "new directory", containers: []string{"app"}, output: filepath.Join(dir, "new") + "/", wantWrote: []string{filepath.Join(dir, "new", "app.json")}},
		{name: "several to one file", containers: []string{"app", "sidecar"}, output: filepath.Join(dir, "web.json"),
			wantErr: `Deployment/web has recordings of 2 containers (app, sidecar), and --output "` + filepath.Join(dir, "web.json") + `" is one file: give --container for one of them, or a directory to --output (one <container>.json each)`},
		{name: "several to stdout", containers: []string{"app", "sidecar"}, output: "-",
			wantErr: `Deployment/web has recordings of 2 containers (app, sidecar), and stdout takes one profile: give --container for one of them, or a directory to --output (one <container>.json each)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := profilesOf(t, tt.containers...)
			var stdout bytes.Buffer
			wrote, err := WriteFiles(ps, tt.output, &stdout)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantWrote, wrote)
			if tt.wantStdout {
				assert.Equal(t, string(ps[0].JSON), stdout.String())
				return
			}
			assert.Empty(t, stdout.String())
			for i, path := range wrote {
				got, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, string(ps[i].JSON), string(got))
			}
		})
	}
}

func TestWriteConfigMap(t *testing.T) {
	existing := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "profiles", Labels: map[string]string{"team": "web"}},
		Data: map[string]string{"other.json": "{}", "app.json": "old"}}
	tests := []struct {
		name       string
		containers []string
		key        string
		wantKeys   []string
		wantData   map[string]string // "" values are the profiles, by key order
		wantErr    string
	}{
		{name: "update keeps other keys", containers: []string{"app"}, wantKeys: []string{"app.json"},
			wantData: map[string]string{"other.json": "{}", "app.json": ""}},
		{name: "chosen key", containers: []string{"app"}, key: "web.json", wantKeys: []string{"web.json"},
			wantData: map[string]string{"other.json": "{}", "app.json": "old", "web.json": ""}},
		{name: "several containers", containers: []string{"app", "sidecar"}, wantKeys: []string{"app.json", "sidecar.json"},
			wantData: map[string]string{"other.json": "{}", "app.json": "", "sidecar.json": ""}},
		{name: "one key for several", containers: []string{"app", "sidecar"}, key: "web.json",
			wantErr: `--configmap-key "web.json" names one key, and Deployment/web has recordings of 2 containers (app, sidecar): give --container, or leave --configmap-key out (one <container>.json each)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(existing.DeepCopy()).Build()
			ps := profilesOf(t, tt.containers...)
			keys, err := WriteConfigMap(context.Background(), c, "shop", "profiles", tt.key, ps)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantKeys, keys)
			want := map[string]string{}
			for k, v := range tt.wantData {
				want[k] = v
			}
			for i, k := range keys {
				want[k] = string(ps[i].JSON)
			}
			got := &corev1.ConfigMap{}
			require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "profiles"}, got))
			assert.Equal(t, want, got.Data)
			assert.Equal(t, map[string]string{"team": "web"}, got.Labels)
		})
	}

	t.Run("created", func(t *testing.T) {
		c := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
		ps := profilesOf(t, "app")
		_, err := WriteConfigMap(context.Background(), c, "shop", "new", "", ps)
		require.NoError(t, err)
		got := &corev1.ConfigMap{}
		require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "new"}, got))
		assert.Equal(t, map[string]string{"app.json": string(ps[0].JSON)}, got.Data)
	})
}

// spoClient is a fake client whose RESTMapper serves the SPO kind at
// scope, or not at all (scope nil).
func spoClient(scope meta.RESTScope, objs ...client.Object) client.Client {
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{SeccompProfileGVK.GroupVersion()})
	if scope != nil {
		m.Add(SeccompProfileGVK, scope)
	}
	return fake.NewClientBuilder().WithScheme(scheme.Scheme).WithRESTMapper(m).WithObjects(objs...).Build()
}

func TestWriteSeccompProfiles(t *testing.T) {
	old := SeccompProfileObject("", "web", profilesOf(t, "old")[0])
	old.SetLabels(map[string]string{"team": "web"})
	old.SetAnnotations(map[string]string{"owner": "me", "description": "old"})
	tests := []struct {
		name       string
		scope      meta.RESTScope
		objs       []client.Object
		containers []string
		want       []SeccompProfileResult
		wantErr    string
	}{
		{name: "cluster-scoped (SPO v0.9)", scope: meta.RESTScopeRoot, containers: []string{"app"},
			want: []SeccompProfileResult{{Name: "web", LocalhostProfile: "operator/web.json"}}},
		{name: "namespaced (SPO v0.8)", scope: meta.RESTScopeNamespace, containers: []string{"app"},
			want: []SeccompProfileResult{{Namespace: "shop", Name: "web", LocalhostProfile: "operator/shop/web.json"}}},
		{name: "several containers", scope: meta.RESTScopeRoot, containers: []string{"app", "sidecar"},
			want: []SeccompProfileResult{{Name: "web-app", LocalhostProfile: "operator/web-app.json"}, {Name: "web-sidecar", LocalhostProfile: "operator/web-sidecar.json"}}},
		{name: "update", scope: meta.RESTScopeRoot, objs: []client.Object{old}, containers: []string{"app"},
			want: []SeccompProfileResult{{Name: "web", LocalhostProfile: "operator/web.json"}}},
		{name: "operator not installed", containers: []string{"app"},
			wantErr: "the cluster has no SeccompProfile kind (security-profiles-operator.x-k8s.io/v1beta1): the Security Profiles Operator is not installed; " +
				"install it (https://github.com/kubernetes-sigs/security-profiles-operator), or write the profile with --configmap or --output instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := spoClient(tt.scope, tt.objs...)
			ps := profilesOf(t, tt.containers...)
			got, err := WriteSeccompProfiles(context.Background(), c, "shop", "web", ps)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			for i, r := range got {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(SeccompProfileGVK)
				require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, u))
				spec, _, _ := unstructured.NestedMap(u.Object, "spec")
				assert.Equal(t, map[string]any{
					"defaultAction": "SCMP_ACT_ERRNO",
					"architectures": []any{"SCMP_ARCH_X86_64"},
					"flags":         []any{"SECCOMP_FILTER_FLAG_LOG"},
					"syscalls":      []any{map[string]any{"action": "SCMP_ACT_ALLOW", "names": toAny(ps[i].Seccomp.Syscalls[0].Names)}},
				}, spec)
				assert.Equal(t, "Recorded by seccomp-guard profile record: namespace shop, Deployment/web, container "+tt.containers[i], u.GetAnnotations()["description"])
				if tt.objs != nil {
					assert.Equal(t, "me", u.GetAnnotations()["owner"], "other annotations kept")
					assert.Equal(t, map[string]string{"team": "web"}, u.GetLabels())
				}
			}
		})
	}
}

func toAny(ss []string) []any {
	out := make([]any, 0, len(ss))
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}
