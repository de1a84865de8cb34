package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
)

// TestInventoryAgreesWithCheck holds `seccomp-guard inventory` and
// `seccomp-guard check` to one verdict per (profile, node) on the same
// files: for every profile the report lists and every node, a pod pinned
// to that node (spec.nodeName) is checked under a policy that denies
// unknown nodes, and its reason code must be the report's. The fixture
// sets cover the case that once split them (node-gpu has an inventory but
// no agent Lease while other nodes have one) and a file set without any
// Lease, where every node with an inventory is fresh.
func TestInventoryAgreesWithCheck(t *testing.T) {
	noLeases := t.TempDir()
	for _, f := range []string{"nodes.yaml", "inventories.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "inventory", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(noLeases, f), b, 0o600))
	}
	for _, tc := range []struct {
		name      string
		inventory string
		// wantStates pins a few verdicts so that agreement cannot come from
		// both sides being empty.
		wantStates map[string]string
	}{
		{
			name:      "fixtures: node-c stale, node-gpu without a Lease",
			inventory: filepath.Join("testdata", "inventory"),
			wantStates: map[string]string{
				"operator/web.json@node-a":        "ok",
				"operator/web.json@node-gpu":      "unknown",
				"profiles/audit.json@node-c":      "unknown",
				"profiles/broken.json@node-b":     "invalid",
				"profiles/permissive.json@node-a": "allow-by-default",
			},
		},
		{
			name:      "no Lease in the files: every node with an inventory is fresh",
			inventory: noLeases,
			wantStates: map[string]string{
				"operator/web.json@node-gpu":      "ok",
				"profiles/audit.json@node-c":      "ok",
				"profiles/audit.json@node-gpu":    "missing",
				"profiles/broken.json@node-b":     "invalid",
				"profiles/permissive.json@node-b": "allow-by-default",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", "inventory", "-o", "json", "--policy", "testdata/policy.yaml", "--inventory", tc.inventory)
			require.Equal(t, exitOK, code, stderr)
			var report cli.InventoryReport
			require.NoError(t, json.Unmarshal([]byte(stdout), &report))

			// One pod per (profile, node), named after its index.
			var pods []string
			type cell struct{ profile, node, state, reason string }
			var cells []cell
			for _, p := range report.Profiles {
				for _, v := range p.Nodes {
					pods = append(pods, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: pod-%d, namespace: shop}
spec:
  nodeName: %s
  securityContext:
    seccompProfile: {type: Localhost, localhostProfile: %s}
  containers: [{name: app, image: app}]
`, len(cells), v.Node, p.Path))
					cells = append(cells, cell{p.Path, v.Node, string(v.State), string(v.Reason)})
				}
			}
			require.NotEmpty(t, cells)
			found := map[string]string{}
			for _, c := range cells {
				found[c.profile+"@"+c.node] = c.state
			}
			for k, want := range tc.wantStates {
				assert.Equal(t, want, found[k], k)
			}

			podFile := filepath.Join(t.TempDir(), "pods.yaml")
			require.NoError(t, os.WriteFile(podFile, []byte(strings.Join(pods, "---\n")), 0o600))
			_, stdout, stderr = runCLI(t, "", "check", "-o", "json", "--policy", "testdata/policy.yaml", "--inventory", tc.inventory, "--now", report.Now.Format("2006-01-02T15:04:05Z07:00"), podFile)
			var checked struct {
				Objects []struct {
					Name       string `json:"name"`
					Violations []struct {
						Reason string `json:"reason"`
					} `json:"violations"`
				} `json:"objects"`
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &checked), stderr)
			require.Len(t, checked.Objects, len(cells))
			for i, obj := range checked.Objects {
				c := cells[i]
				require.Equal(t, fmt.Sprintf("pod-%d", i), obj.Name)
				var reasons []string
				for _, v := range obj.Violations {
					reasons = append(reasons, v.Reason)
				}
				var want []string
				if c.reason != "" {
					want = []string{c.reason}
				}
				assert.Equal(t, want, reasons, "%s on %s: the report says %s", c.profile, c.node, c.state)
			}
		})
	}
}
