package v1alpha1

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestDefaultsMatchCRD reads the generated CRD (the kubebuilder markers'
// output) and holds it to the Go defaults, so the two cannot drift.
func TestDefaultsMatchCRD(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "charts", "seccomp-guard", "crds", "seccomp-guard.io_clusterseccomppolicies.yaml"))
	require.NoError(t, err)
	var crd apiextensionsv1.CustomResourceDefinition
	require.NoError(t, yaml.Unmarshal(b, &crd))
	require.Len(t, crd.Spec.Versions, 1)
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	lh := spec.Properties["localhost"]
	def := func(s apiextensionsv1.JSONSchemaProps) string {
		require.NotNil(t, s.Default, "a default marker is missing")
		return string(s.Default.Raw)
	}
	assert.Equal(t, `"`+string(DefaultMode)+`"`, def(spec.Properties["defaultMode"]))
	assert.Equal(t, `"`+string(DefaultNodeCoverage)+`"`, def(lh.Properties["nodeCoverage"]))
	assert.Equal(t, `"`+string(DefaultUnknownNodes)+`"`, def(lh.Properties["unknownNodes"]))
	assert.Equal(t, `"`+DefaultStaleAfter.String()+`"`, `"`+mustDuration(t, def(lh.Properties["staleAfter"]))+`"`)
	assert.Equal(t, "true", def(lh.Properties["rejectAllowByDefault"]))
	assert.True(t, DefaultRejectAllowByDefault)
	assert.Equal(t, "true", def(spec.Properties["workloads"]))
	assert.True(t, DefaultWorkloads)
	assert.Equal(t, `"`+string(DefaultPrivileged)+`"`, def(spec.Properties["privileged"]))
	var actions []string
	for _, a := range spec.Properties["privileged"].Enum {
		actions = append(actions, string(a.Raw))
	}
	var wantActions []string
	for _, a := range PrivilegedActions() {
		wantActions = append(wantActions, `"`+string(a)+`"`)
	}
	assert.ElementsMatch(t, wantActions, actions, "the PrivilegedAction enum marker and PrivilegedActions() differ")
	var modes []string
	for _, m := range spec.Properties["defaultMode"].Enum {
		modes = append(modes, string(m.Raw))
	}
	var want []string
	for _, m := range Modes() {
		want = append(want, `"`+string(m)+`"`)
	}
	assert.ElementsMatch(t, want, modes, "the Mode enum marker and Modes() differ")
}

func mustDuration(t *testing.T, quoted string) string {
	t.Helper()
	var s string
	require.NoError(t, yaml.Unmarshal([]byte(quoted), &s))
	d, err := time.ParseDuration(s)
	require.NoError(t, err)
	return d.String()
}

func TestModeIsValid(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		want bool
	}{{"enforce", true}, {"warn", true}, {"audit", true}, {"disabled", true}, {"Enforce", false}, {"enforced", false}, {"off", false}, {"", false}} {
		assert.Equal(t, tc.want, tc.mode.IsValid(), string(tc.mode))
	}
}

func TestSeccompProfileRefString(t *testing.T) {
	lp := "profiles/a.json"
	assert.Equal(t, "RuntimeDefault", DefaultProfileRef().String())
	assert.Equal(t, "localhost/profiles/a.json", SeccompProfileRef{Type: ProfileTypeLocalhost, LocalhostProfile: &lp}.String())
	assert.Equal(t, "Localhost", SeccompProfileRef{Type: ProfileTypeLocalhost}.String())
}
