package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
)

func TestInventoryCommand(t *testing.T) {
	const table = `NODE      PROFILES  INVALID  RUNTIME     HEARTBEAT  STATE
node-a    4         0        containerd  0s ago     fresh
node-b    4         1        containerd  20s ago    fresh
node-c    1         0        cri-o       15m0s ago  unknown: agent last seen 15m0s ago
node-gpu  1         0        containerd  -          unknown: no heartbeat from its agent

PROFILE                   OK             MISSING  INVALID  ALLOW-BY-DEFAULT  UNKNOWN          DRIFT
operator/web.json         node-a,node-b  -        -        -                 node-c,node-gpu  -
profiles/audit.json       node-a,node-b  -        -        -                 node-c,node-gpu  -
profiles/broken.json      node-a         -        node-b   -                 node-c,node-gpu  -
profiles/permissive.json  -              -        -        node-a,node-b     node-c,node-gpu  -

Problems:
  profiles/broken.json on node-b is not a valid profile: defaultAction: unknown action "SCMP_ACT_NOPE" (ProfileInvalid)
  profiles/permissive.json on node-a lets through every syscall it does not list (defaultAction SCMP_ACT_ALLOW) (ProfileAllowByDefault)
  profiles/permissive.json on node-b lets through every syscall it does not list (defaultAction SCMP_ACT_ALLOW) (ProfileAllowByDefault)
`
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:       "files, staleness judged at the newest Lease",
			args:       []string{"inventory", "--inventory", "testdata/inventory"},
			wantStdout: table,
			wantStderr: "note: Lease kube-node-lease/node-a at testdata/inventory/leases.json:23 is not used: it is a kubelet Lease (namespace kube-node-lease), not the seccomp-guard agent's\n",
		},
		{
			name:       "a longer staleAfter makes node-c fresh",
			args:       []string{"inventory", "--inventory", "testdata/inventory", "--stale-after", "20m", "-o", "json"},
			wantStdout: "",
		},
		{
			name:       "bad output format",
			args:       []string{"inventory", "--inventory", "testdata/inventory", "-o", "yaml"},
			wantCode:   2,
			wantStderr: "Error: unknown output format \"yaml\" for --output: use text or json\nRun 'seccomp-guard inventory --help' for usage.\n",
		},
		{
			name:       "bad --now",
			args:       []string{"inventory", "--inventory", "testdata/inventory", "--now", "yesterday"},
			wantCode:   2,
			wantStderr: "Error: --now \"yesterday\" is not an RFC 3339 time, e.g. 2026-01-02T15:04:05Z\nRun 'seccomp-guard inventory --help' for usage.\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			assert.Equal(t, tc.wantCode, code)
			assert.Equal(t, tc.wantStderr, stderr)
			if tc.wantStdout != "" || tc.wantCode != 0 {
				assert.Equal(t, tc.wantStdout, stdout)
				return
			}
			var r cli.InventoryReport
			require.NoError(t, json.Unmarshal([]byte(stdout), &r))
			var stale []string
			for _, n := range r.Nodes {
				if n.Stale {
					stale = append(stale, n.Name+": "+n.Reason)
				}
			}
			// node-c is fresh within 20m; node-gpu has no agent Lease at all.
			assert.Equal(t, []string{"node-gpu: no heartbeat from its agent"}, stale)
		})
	}
}
