package native

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// updateGolden regenerates testdata/*.yaml:
//
//	SECCOMP_GUARD_UPDATE_GOLDEN=1 go test ./native -run TestGolden
var updateGolden = os.Getenv("SECCOMP_GUARD_UPDATE_GOLDEN") == "1"

// TestGolden compares what the package renders with reviewed copies: the
// objects of Build as the YAML stream "seccomp-guard native-policies"
// prints, and WebhookMatchConditions.
func TestGolden(t *testing.T) {
	var policies bytes.Buffer
	for i, o := range Build(DefaultNamePrefix).List() {
		b, err := yaml.Marshal(o)
		require.NoError(t, err)
		if i > 0 {
			policies.WriteString("---\n")
		}
		policies.Write(b)
	}
	conditions, err := yaml.Marshal(WebhookMatchConditions())
	require.NoError(t, err)

	for name, got := range map[string][]byte{
		"native-policies.yaml":          policies.Bytes(),
		"webhook-match-conditions.yaml": conditions,
	} {
		path := filepath.Join("testdata", name)
		if updateGolden {
			require.NoError(t, os.WriteFile(path, got, 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1")
		assert.Equal(t, string(want), string(got), "%s is stale; review the change, then regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1", path)
	}
}
