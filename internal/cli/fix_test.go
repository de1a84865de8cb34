package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/internal/manifest"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// TestVerifyFixPatchPaths reads fixed content back against patches whose
// paths hold escaped keys (RFC 6901: ~1 for "/", ~0 for "~"), which the
// engine's securityContext patches never have but JSON patches may, and
// against a patch that does not apply.
func TestVerifyFixPatchPaths(t *testing.T) {
	const before = `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    a: b
spec:
  containers:
  - name: app
    image: nginx
`
	add := func(path string, value any) policy.Patch { return policy.Patch{Op: "add", Path: path, Value: value} }
	runtimeDefault := map[string]any{"seccompProfile": map[string]any{"type": "RuntimeDefault"}}
	tests := []struct {
		name    string
		patches []policy.Patch
		after   string
		wantErr string
	}{
		{
			name:    "the engine's patch",
			patches: []policy.Patch{add("/spec/securityContext", runtimeDefault)},
			after:   before + "  securityContext:\n    seccompProfile:\n      type: RuntimeDefault\n",
		},
		{
			name:    "a key with a slash, escaped as ~1",
			patches: []policy.Patch{add("/metadata/annotations/example.com~1team", "web")},
			after:   replace(t, before, "    a: b\n", "    a: b\n    example.com/team: web\n"),
		},
		{
			name:    "a key with a tilde, escaped as ~0",
			patches: []policy.Patch{add("/metadata/annotations/x~0y", "1")},
			after:   replace(t, before, "    a: b\n", "    a: b\n    x~y: \"1\"\n"),
		},
		{
			name:    "~01 is a tilde and a 1, not a slash",
			patches: []policy.Patch{add("/metadata/annotations/example.com~01team", "web")},
			after:   replace(t, before, "    a: b\n", "    a: b\n    example.com/team: web\n"),
			wantErr: `in.yaml: internal error: fix produced content that changes Pod "web" beyond its seccomp profile; the file is left unchanged, please report this with the file`,
		},
		{
			name:    "a patch whose parent does not exist",
			patches: []policy.Patch{add("/spec/template/spec/securityContext", runtimeDefault)},
			after:   before,
			wantErr: `in.yaml: internal error: the patches of Pod "web" do not apply to it (add operation does not apply: doc is missing path: "/spec/template/spec/securityContext": missing value); the file is left unchanged, please report this with the file`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := manifest.Parse("in.yaml", []byte(before))
			require.NoError(t, err)
			var patched []*Result
			if tc.patches != nil {
				patched = append(patched, &Result{Object: f.Objects[0], Decision: policy.Decision{Patches: tc.patches}})
			}
			err = verifyFix(f, []byte(tc.after), patched)
			if tc.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.wantErr)
			}
		})
	}
}

func replace(t *testing.T, s, old, with string) string {
	t.Helper()
	require.Contains(t, s, old)
	return strings.Replace(s, old, with, 1)
}
