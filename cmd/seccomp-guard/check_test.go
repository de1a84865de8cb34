package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seccomp-guard/seccomp-guard/internal/cli"
)

// goldenUpdate regenerates the golden files of check and fix:
//
//	SECCOMP_GUARD_UPDATE_GOLDEN=1 go test ./cmd/seccomp-guard -run 'TestCheckGolden|TestFixGolden'
var goldenUpdate = os.Getenv("SECCOMP_GUARD_UPDATE_GOLDEN") == "1"

// testNow is the current time in tests that give no --now and no Lease.
var testNow = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

// runCLI runs the binary's command tree with stdin and returns the exit
// code, stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	saved := clock
	clock = func() time.Time { return testNow }
	t.Cleanup(func() { clock = saved })
	root := newRootCommand(testInfo)
	root.SetIn(strings.NewReader(stdin))
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), root, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// assertGolden compares got with testdata/golden/name, or rewrites it.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if goldenUpdate {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1")
	assert.Equal(t, string(want), got, "golden file %s (regenerate with SECCOMP_GUARD_UPDATE_GOLDEN=1)", path)
}

// cluster are the flags that stand in for the test cluster.
var cluster = []string{"--policy", "testdata/policy.yaml", "--inventory", "testdata/inventory"}

const deniedMixed = "Error: 14 of 32 checked objects would be denied in namespace mode enforce\n"

func TestCheckGolden(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{name: "text", args: append(append([]string{"check"}, cluster...), "testdata/manifests"), golden: "check-mixed.txt"},
		{name: "json", args: append(append([]string{"check", "-o", "json"}, cluster...), "testdata/manifests"), golden: "check-mixed.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			assert.Equal(t, exitError, code)
			assert.Equal(t, deniedMixed, stderr)
			assertGolden(t, tc.golden, stdout)
		})
	}
}

// TestCheckVerdicts is the acceptance matrix of issue 3: over the mixed
// manifests, each object's verdict, reasons and patches.
func TestCheckVerdicts(t *testing.T) {
	code, stdout, _ := runCLI(t, "", append(append([]string{"check", "-o", "json"}, cluster...), "testdata/manifests")...)
	require.Equal(t, exitError, code)
	var report cli.JSONReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &report))
	byID := map[string]cli.JSONObject{}
	for _, o := range report.Objects {
		byID[o.Kind+"/"+o.Namespace+"/"+o.Name] = o
	}

	const (
		podPatch      = "add /spec/securityContext"
		podSCPatch    = "add /spec/securityContext/seccompProfile"
		tmplPatch     = "add /spec/template/spec/securityContext"
		tmplSCPatch   = "add /spec/template/spec/securityContext/seccompProfile"
		podTmplPatch  = "add /template/spec/securityContext"
		cronPatch     = "add /spec/jobTemplate/spec/template/spec/securityContext"
		notCheckedKey = "not-checked"
	)
	tests := []struct {
		name    string
		object  string
		verdict string
		reasons []string
		patches []string
	}{
		// Defaulting.
		{name: "unset profile is defaulted", object: "Pod/default/unset", verdict: "allowed", patches: []string{podPatch}},
		{name: "unset profile next to other securityContext fields", object: "Pod/default/unset-with-context", verdict: "allowed", patches: []string{podSCPatch}},
		{name: "explicit RuntimeDefault is kept", object: "Pod/default/runtime-default", verdict: "allowed"},
		// Unconfined at each of the four places.
		{name: "Unconfined at pod level", object: "Pod/default/unconfined-pod", verdict: "denied", reasons: []string{"UnconfinedForbidden"}},
		// Denied objects carry the patches of the mutating webhook too: it
		// defaults them before the validating webhook refuses them.
		{name: "Unconfined in a container", object: "Pod/default/unconfined-container", verdict: "denied", reasons: []string{"UnconfinedForbidden"}, patches: []string{podPatch}},
		{name: "Unconfined in an initContainer", object: "Pod/default/unconfined-init", verdict: "denied", reasons: []string{"UnconfinedForbidden"}, patches: []string{podPatch}},
		{name: "Unconfined in an ephemeralContainer", object: "Pod/default/unconfined-ephemeral", verdict: "denied", reasons: []string{"UnconfinedForbidden"}},
		// Skips.
		{name: "Windows pod", object: "Pod/default/windows", verdict: "skipped"},
		{name: "exempt runtime class", object: "Pod/default/kata", verdict: "skipped"},
		{name: "exempt namespace", object: "Pod/kube-system/coredns-debug", verdict: "skipped"},
		// Localhost: globs, and coverage by nodeName, nodeSelector, affinity and taints.
		{name: "Localhost allowed by glob, present on the affinity's nodes", object: "Pod/shop/present-affinity", verdict: "allowed"},
		{name: "Localhost in a container, pinned to a node that has it", object: "Pod/shop/present-pinned", verdict: "allowed", patches: []string{podPatch}},
		{name: "Localhost refused by glob", object: "Pod/shop/refused-by-glob", verdict: "denied", reasons: []string{"ProfileNotAllowed"}},
		{name: "Localhost missing on the nodeSelector's nodes", object: "Pod/shop/missing", verdict: "denied", reasons: []string{"ProfileMissing"}},
		{name: "Localhost invalid on the pinned node", object: "Pod/shop/invalid-pinned", verdict: "denied", reasons: []string{"ProfileInvalid"}},
		{name: "Localhost on a node whose inventory is stale", object: "Pod/shop/stale-selector", verdict: "denied", reasons: []string{"InventoryUnknown"}},
		{name: "tolerated taint adds the node that lacks the profile", object: "Pod/shop/taint-tolerated", verdict: "denied", reasons: []string{"InventoryUnknown"}}, // node-gpu has an inventory but no agent Lease
		{name: "untolerated taint keeps that node out", object: "Pod/shop/taint-not-tolerated", verdict: "allowed"},
		{name: "Localhost profile that allows by default", object: "Pod/shop/allow-by-default", verdict: "denied", reasons: []string{"ProfileAllowByDefault"}},
		{name: "Localhost path with ..", object: "Pod/shop/bad-path", verdict: "denied", reasons: []string{"InvalidLocalhostPath"}},
		// Every workload kind.
		{name: "Deployment", object: "Deployment/shop/web", verdict: "allowed", patches: []string{tmplPatch}},
		{name: "ReplicaSet owned by a Deployment is validated, not defaulted", object: "ReplicaSet/shop/web-5d9c7b", verdict: "allowed"},
		{name: "StatefulSet", object: "StatefulSet/shop/db", verdict: "allowed", patches: []string{tmplSCPatch}},
		{name: "DaemonSet on the tainted nodes it tolerates", object: "DaemonSet/monitoring/gpu-exporter", verdict: "denied", reasons: []string{"InventoryUnknown"}, patches: []string{tmplPatch}},
		{name: "Job", object: "Job/shop/migrate", verdict: "allowed", patches: []string{tmplPatch}},
		{name: "CronJob", object: "CronJob/shop/report", verdict: "denied", reasons: []string{"UnconfinedForbidden"}, patches: []string{cronPatch}},
		{name: "ReplicationController", object: "ReplicationController/default/legacy", verdict: "allowed", patches: []string{tmplPatch}},
		{name: "PodTemplate", object: "PodTemplate/default/worker", verdict: "allowed", patches: []string{podTmplPatch}},
		// Input forms.
		{name: "item of a v1 List", object: "Pod/shop/listed", verdict: "allowed", patches: []string{podPatch}},
		{name: "item of a typed List", object: "Deployment/shop/api", verdict: "allowed", patches: []string{tmplPatch}},
		{name: "denied item of a typed List", object: "Deployment/shop/api-debug", verdict: "denied", reasons: []string{"UnconfinedForbidden"}},
		{name: "JSON file", object: "Pod/shop/from-json", verdict: "allowed", patches: []string{podSCPatch}},
		// Other kinds and versions.
		{name: "Service in a List", object: "Service/shop/web", verdict: notCheckedKey},
		{name: "ConfigMap", object: "ConfigMap/shop/web-config", verdict: notCheckedKey},
		{name: "Service", object: "Service/shop/db", verdict: notCheckedKey},
		{name: "CronJob of batch/v1beta1", object: "CronJob/shop/old-report", verdict: notCheckedKey},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := byID[tc.object]
			require.True(t, ok, "object %s not in the report", tc.object)
			seen[tc.object] = true
			assert.Equal(t, tc.verdict, o.Verdict)
			var reasons []string
			for _, v := range o.Violations {
				reasons = append(reasons, string(v.Reason))
			}
			assert.Equal(t, tc.reasons, reasons)
			var patches []string
			for _, p := range o.Patches {
				patches = append(patches, p.Op+" "+p.Path)
			}
			assert.Equal(t, tc.patches, patches)
			assert.Equal(t, tc.verdict != "denied", o.Allowed)
		})
	}
	assert.Len(t, seen, len(report.Objects), "every object of testdata/manifests has a case")
	assert.Equal(t, cli.Summary{
		Files: 9, Objects: 36, Checked: 32, Admitted: 15, Denied: 14, Skipped: 3, Defaulted: 11, NotChecked: 4,
		NotCheckedKinds: map[string]int{"batch/v1beta1 CronJob": 1, "v1 ConfigMap": 1, "v1 Service": 2},
	}, report.Summary)
}

const (
	noInventoryNote = "note: no --inventory given: Localhost profiles were not checked against nodes; give --inventory with Node, NodeSeccompInventory and Lease manifests to check them\n"
	kubeletLease    = "note: Lease kube-node-lease/node-a at testdata/inventory/leases.json:23 is not used: it is a kubelet Lease (namespace kube-node-lease), not the seccomp-guard agent's\n"
	leaseNow        = "note: inventory staleness judged at 2026-03-01T12:00:00Z, the newest Lease renewTime in the inventory files; set --now to change it\n"
	unsetDefaulted  = "testdata/small/unset.yaml:5 Pod/default/web: spec.securityContext.seccompProfile: not set; the webhook sets it to RuntimeDefault (run seccomp-guard fix to write it into the file)\n"
	oneAdmitted     = "checked 1 object in 1 file (namespace mode enforce): 1 admitted, 0 denied, 0 skipped; 1 defaulted\n"
	unconfinedLine  = "testdata/small/unconfined.yaml:12 Pod/shop/debug: spec.containers[0].securityContext.seccompProfile.type: \"Unconfined\" is forbidden in namespace \"shop\" (UnconfinedForbidden); remove it or use RuntimeDefault\n"
	staleDenied     = "testdata/small/stale.yaml:13 Pod/shop/batch: spec.securityContext.seccompProfile.localhostProfile: \"profiles/audit.json\" cannot be checked on the only node this pod can run on: node-c (agent last seen 15m0s ago) (InventoryUnknown); make sure the seccomp-guard agent runs there, or set spec.localhost.unknownNodes to Warn\n"
	checkUsage      = "Run 'seccomp-guard check --help' for usage.\n"
)

func TestCheckCommand(t *testing.T) {
	unsetYAML, err := os.ReadFile("testdata/small/unset.yaml")
	require.NoError(t, err)
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:       "file with an unset profile",
			args:       []string{"check", "testdata/small/unset.yaml"},
			wantCode:   exitOK,
			wantStdout: unsetDefaulted + noInventoryNote + oneAdmitted,
		},
		{
			name:     "stdin",
			stdin:    string(unsetYAML),
			args:     []string{"check", "-"},
			wantCode: exitOK,
			wantStdout: "<stdin>:5 Pod/default/web: spec.securityContext.seccompProfile: not set; the webhook sets it to RuntimeDefault (run seccomp-guard fix to write it into the file)\n" +
				noInventoryNote + oneAdmitted,
		},
		{
			name:     "JSON from stdin, several paths",
			stdin:    `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j", "namespace": "shop"}, "spec": {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": []}}`,
			args:     []string{"check", "testdata/small/unset.yaml", "-"},
			wantCode: exitOK,
			wantStdout: unsetDefaulted + noInventoryNote +
				"checked 2 objects in 2 files (namespace mode enforce): 2 admitted, 0 denied, 0 skipped; 1 defaulted\n",
		},
		{
			name:       "denied",
			args:       []string{"check", "testdata/small/unconfined.yaml"},
			wantCode:   exitError,
			wantStdout: unconfinedLine + noInventoryNote + "checked 1 object in 1 file (namespace mode enforce): 0 admitted, 1 denied, 0 skipped; 0 defaulted\n",
			wantStderr: "Error: 1 of 1 checked objects would be denied in namespace mode enforce\n",
		},
		{
			name:     "--namespace-mode warn admits violations",
			args:     []string{"check", "--namespace-mode", "warn", "testdata/small/unconfined.yaml"},
			wantCode: exitOK,
			wantStdout: "testdata/small/unconfined.yaml:6 Pod/shop/debug: spec.securityContext.seccompProfile: not set; the webhook sets it to RuntimeDefault (run seccomp-guard fix to write it into the file)\n" +
				unconfinedLine + noInventoryNote + "checked 1 object in 1 file (namespace mode warn): 0 admitted, 0 denied, 1 admitted with violations that enforce mode would deny, 0 skipped; 1 defaulted\n",
		},
		{
			name:     "--namespace-mode audit changes nothing",
			args:     []string{"check", "--namespace-mode=audit", "testdata/small/unset.yaml"},
			wantCode: exitOK,
			wantStdout: "testdata/small/unset.yaml:5 Pod/default/web: spec.securityContext.seccompProfile: not set; would be set to RuntimeDefault in warn or enforce mode (audit mode changes nothing)\n" +
				noInventoryNote + "checked 1 object in 1 file (namespace mode audit): 1 admitted, 0 denied, 0 skipped; 1 would be defaulted\n",
		},
		{
			name:     "--namespace-mode disabled skips",
			args:     []string{"check", "--namespace-mode", "disabled", "testdata/small/unconfined.yaml"},
			wantCode: exitOK,
			wantStdout: "testdata/small/unconfined.yaml:1 Pod/shop/debug: skipped: namespace mode is disabled\n" +
				noInventoryNote + "checked 1 object in 1 file (namespace mode disabled): 0 admitted, 0 denied, 1 skipped; 0 defaulted\n",
		},
		{
			name:       "--namespace-mode must be a mode",
			args:       []string{"check", "--namespace-mode", "off", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: invalid --namespace-mode \"off\": use enforce, warn, audit or disabled\n" + checkUsage,
		},
		{
			name:     "--namespace-default-profile picks the injected profile",
			args:     []string{"check", "--namespace-default-profile", "localhost/profiles/audit.json", "testdata/small/unset.yaml"},
			wantCode: exitOK,
			wantStdout: "testdata/small/unset.yaml:5 Pod/default/web: spec.securityContext.seccompProfile: not set; the webhook sets it to localhost/profiles/audit.json (run seccomp-guard fix to write it into the file)\n" +
				noInventoryNote + oneAdmitted,
		},
		{
			name:     "--namespace-default-profile outside the policy's globs",
			args:     []string{"check", "--policy", "testdata/policy.yaml", "--namespace-default-profile", "localhost/custom/p.json", "testdata/small/unset.yaml"},
			wantCode: exitError,
			wantStdout: "testdata/small/unset.yaml:5 Pod/default/web: spec.securityContext.seccompProfile: not set, and the default of namespace \"default\" cannot be injected: annotation seccomp-guard.io/default-profile=\"localhost/custom/p.json\" names a profile that matches none of spec.localhost.allowedProfiles [\"profiles/*\", \"operator/*\"] (InvalidDefaultProfile); set the annotation to RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>, or set spec.securityContext.seccompProfile in the pod yourself\n" +
				noInventoryNote + "checked 1 object in 1 file (namespace mode enforce): 0 admitted, 1 denied, 0 skipped; 0 defaulted\n",
			wantStderr: "Error: 1 of 1 checked objects would be denied in namespace mode enforce\n",
		},
		{
			name:       "--namespace-default-profile must be RuntimeDefault or localhost/<path>",
			args:       []string{"check", "--namespace-default-profile", "Unconfined", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: invalid --namespace-default-profile \"Unconfined\": it would make pods Unconfined, which is forbidden; use RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>\n" + checkUsage,
		},
		{
			name:       "--namespace-default-profile with an absolute path",
			args:       []string{"check", "--namespace-default-profile", "localhost//etc/p.json", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: invalid --namespace-default-profile \"localhost//etc/p.json\": it names a path that is absolute; use RuntimeDefault or localhost/<path relative to the kubelet's seccomp root>\n" + checkUsage,
		},
		{
			name:     "--namespace for objects that name none",
			args:     []string{"check", "--namespace", "payments", "testdata/small/unset.yaml"},
			wantCode: exitOK,
			wantStdout: "testdata/small/unset.yaml:5 Pod/payments/web: spec.securityContext.seccompProfile: not set; the webhook sets it to RuntimeDefault (run seccomp-guard fix to write it into the file)\n" +
				noInventoryNote + oneAdmitted,
		},
		{
			name:       "--namespace must not be empty",
			args:       []string{"check", "--namespace=", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: --namespace must not be empty: it is the namespace of objects that name none (default \"default\")\n" + checkUsage,
		},
		{
			name:     "--user exempt by the policy",
			args:     []string{"check", "--policy", "testdata/policy.yaml", "--user", "system:serviceaccount:ci:deployer", "testdata/small/unconfined.yaml"},
			wantCode: exitOK,
			wantStdout: "testdata/small/unconfined.yaml:1 Pod/shop/debug: skipped: user \"system:serviceaccount:ci:deployer\" is exempt (spec.exemptions.usernames)\n" +
				noInventoryNote + "checked 1 object in 1 file (namespace mode enforce): 0 admitted, 0 denied, 1 skipped; 0 defaulted\n",
		},
		{
			name:       "--policy and --inventory: stale inventory denied by the policy",
			args:       append(append([]string{"check"}, cluster...), "testdata/small/stale.yaml"),
			wantCode:   exitError,
			wantStdout: staleDenied + kubeletLease + leaseNow + "checked 1 object in 1 file (namespace mode enforce): 0 admitted, 1 denied, 0 skipped; 0 defaulted\n",
			wantStderr: "Error: 1 of 1 checked objects would be denied in namespace mode enforce\n",
		},
		{
			name:       "--now when the inventory was fresh",
			args:       append(append([]string{"check", "--now", "2026-03-01T11:46:00Z"}, cluster...), "testdata/small/stale.yaml"),
			wantCode:   exitOK,
			wantStdout: kubeletLease + "checked 1 object in 1 file (namespace mode enforce): 1 admitted, 0 denied, 0 skipped; 0 defaulted\n",
		},
		{
			name:     "--inventory without --policy warns about unknown nodes",
			args:     []string{"check", "--inventory", "testdata/inventory/nodes.yaml", "--inventory", "testdata/inventory/inventories.yaml", "--inventory", "testdata/inventory/leases.json", "testdata/small/stale.yaml"},
			wantCode: exitOK,
			wantStdout: "testdata/small/stale.yaml:13 Pod/shop/batch: warning: spec.securityContext.seccompProfile.localhostProfile: \"profiles/audit.json\" could not be checked on the only node this pod can run on: node-c (agent last seen 15m0s ago); not held against the pod because spec.localhost.unknownNodes is Warn\n" +
				kubeletLease + leaseNow + "checked 1 object in 1 file (namespace mode enforce): 1 admitted, 0 denied, 0 skipped; 0 defaulted\n",
		},
		{
			name:     "--inventory without Leases: every node is fresh, now is the current time",
			args:     []string{"check", "-o", "json", "--inventory", "testdata/inventory/nodes.yaml", "--inventory", "testdata/inventory/inventories.yaml", "testdata/small/stale.yaml"},
			wantCode: exitOK,
			wantStdout: `{
  "schemaVersion": "seccomp-guard.io/check/v1",
  "mode": "enforce",
  "defaultNamespace": "default",
  "namespaceDefaultProfile": "",
  "user": "",
  "policy": "",
  "coverageChecked": true,
  "now": "2026-03-01T12:30:00Z",
  "notes": [
    "the --inventory files hold no agent Lease, so every node with a NodeSeccompInventory counts as fresh; add the agents' Leases (kubectl get leases -n <release namespace> -o yaml) to judge staleness as admission does"
  ],
  "objects": [
    {
      "file": "testdata/small/stale.yaml",
      "line": 2,
      "document": 0,
      "apiVersion": "v1",
      "kind": "Pod",
      "namespace": "shop",
      "name": "batch",
      "checked": true,
      "verdict": "allowed",
      "allowed": true,
      "mode": "enforce",
      "patches": [],
      "violations": [],
      "warnings": []
    }
  ],
  "summary": {
    "files": 1,
    "objects": 1,
    "checked": 1,
    "admitted": 1,
    "denied": 0,
    "wouldDeny": 0,
    "skipped": 0,
    "defaulted": 0,
    "notChecked": 0,
    "notCheckedKinds": {}
  }
}
`,
		},
		{
			name:     "-o json of a denied object",
			args:     []string{"check", "-o", "json", "testdata/small/unconfined.yaml"},
			wantCode: exitError,
			wantStdout: `{
  "schemaVersion": "seccomp-guard.io/check/v1",
  "mode": "enforce",
  "defaultNamespace": "default",
  "namespaceDefaultProfile": "",
  "user": "",
  "policy": "",
  "coverageChecked": false,
  "now": "2026-03-01T12:30:00Z",
  "notes": [
    "no --inventory given: Localhost profiles were not checked against nodes; give --inventory with Node, NodeSeccompInventory and Lease manifests to check them"
  ],
  "objects": [
    {
      "file": "testdata/small/unconfined.yaml",
      "line": 1,
      "document": 0,
      "apiVersion": "v1",
      "kind": "Pod",
      "namespace": "shop",
      "name": "debug",
      "checked": true,
      "verdict": "denied",
      "allowed": false,
      "mode": "enforce",
      "defaulted": "RuntimeDefault",
      "patches": [
        {
          "op": "add",
          "path": "/spec/securityContext",
          "value": {
            "seccompProfile": {
              "type": "RuntimeDefault"
            }
          }
        }
      ],
      "violations": [
        {
          "reason": "UnconfinedForbidden",
          "field": "spec.containers[0].securityContext.seccompProfile.type",
          "line": 12,
          "message": "\"Unconfined\" is forbidden in namespace \"shop\" (UnconfinedForbidden); remove it or use RuntimeDefault"
        }
      ],
      "warnings": []
    }
  ],
  "summary": {
    "files": 1,
    "objects": 1,
    "checked": 1,
    "admitted": 0,
    "denied": 1,
    "wouldDeny": 0,
    "skipped": 0,
    "defaulted": 0,
    "notChecked": 0,
    "notCheckedKinds": {}
  }
}
`,
			wantStderr: "Error: 1 of 1 checked objects would be denied in namespace mode enforce\n",
		},
		{
			name:     "unknown fields and legacy annotations warn; a policy not named default is noted",
			args:     []string{"check", "--policy", "testdata/small/policy-strict.yaml", "testdata/small/typo.yaml"},
			wantCode: exitOK,
			wantStdout: "testdata/small/typo.yaml:6 Pod/default/typo: warning: metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: \"unconfined\" has no effect since Kubernetes 1.27 and Unconfined is forbidden here; remove the annotation (the profile comes from securityContext.seccompProfile)\n" +
				"testdata/small/typo.yaml:8 Pod/default/typo: spec.securityContext.seccompProfile: not set; the webhook sets it to RuntimeDefault (run seccomp-guard fix to write it into the file)\n" +
				"testdata/small/typo.yaml:9 Pod/default/typo: warning: spec.securityContext.seccompprofile: unknown field, ignored here and rejected by kubectl apply (strict field validation); check its spelling and indentation\n" +
				"note: the policy at testdata/small/policy-strict.yaml:3 is named \"strict\"; the webhook reads only the ClusterSeccompPolicy named \"default\"\n" +
				noInventoryNote + oneAdmitted,
		},
		// Usage and input errors: exit code 2.
		{
			name:       "no path",
			args:       []string{"check"},
			wantCode:   exitUsage,
			wantStderr: "Error: requires at least 1 arg(s), only received 0\n" + checkUsage,
		},
		{
			name:       "unknown output format",
			args:       []string{"check", "-o", "yaml", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: unknown output format \"yaml\" for --output: use text or json\n" + checkUsage,
		},
		{
			name:       "unknown flag",
			args:       []string{"check", "--inventroy", "x", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: unknown flag: --inventroy\n" + checkUsage,
		},
		{
			name:       "invalid --now",
			args:       []string{"check", "--now", "yesterday", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: invalid --now \"yesterday\": use an RFC 3339 time such as 2026-01-01T12:00:00Z\n" + checkUsage,
		},
		{
			name:       "missing file",
			args:       []string{"check", "testdata/small/nope.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: testdata/small/nope.yaml: no such file or directory\n" + checkUsage,
		},
		{
			name:       "file that does not parse",
			args:       []string{"check", "testdata/small/unset.yaml", "testdata/bad/syntax.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: testdata/bad/syntax.yaml:11: invalid YAML: did not find expected key (in the block mapping that starts at line 8)\n" + checkUsage,
		},
		{
			name:       "file that is not a manifest",
			args:       []string{"check", "testdata/bad/values.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: testdata/bad/values.yaml:2: not a Kubernetes object: apiVersion and kind are not set; every object needs apiVersion and kind (remove files that are not manifests from the paths given)\n" + checkUsage,
		},
		{
			name:       "field of the wrong type",
			args:       []string{"check", "testdata/bad/type-error.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: testdata/bad/type-error.yaml:6: Pod \"web\": spec.containers: found a mapping, but it must be a list ([]v1.Container)\n" + checkUsage,
		},
		{
			name:     "invalid policy",
			args:     []string{"check", "--policy", "testdata/bad/policy-invalid.yaml", "testdata/small/unset.yaml"},
			wantCode: exitUsage,
			wantStderr: "Error: --policy: ClusterSeccompPolicy \"default\" is invalid:\n" +
				"testdata/bad/policy-invalid.yaml:6: spec.defaultMode: Unsupported value: \"strict\": supported values: \"disabled\", \"audit\", \"warn\", \"enforce\"\n" +
				"testdata/bad/policy-invalid.yaml:10: spec.localhost.allowedProfiles[1]: Invalid value: \"/var/lib/kubelet/seccomp/*\": not a valid glob: use path.Match syntax relative to the kubelet's seccomp root, e.g. \"operator/*\" or \"profiles/*.json\"\n" +
				"testdata/bad/policy-invalid.yaml:11: spec.localhost.nodeCoverage: Unsupported value: \"Most\": supported values: \"All\", \"Any\", \"Off\"\n" + checkUsage,
		},
		{
			name:     "policy with an unknown field",
			args:     []string{"check", "--policy", "testdata/bad/policy-unknown-field.yaml", "testdata/small/unset.yaml"},
			wantCode: exitUsage,
			wantStderr: "Error: --policy: ClusterSeccompPolicy \"default\" has unknown fields:\n" +
				"testdata/bad/policy-unknown-field.yaml:7: spec.localhost.nodeCoverge: unknown field; the CRD schema would reject or drop it, check its spelling and indentation\n" + checkUsage,
		},
		{
			name:       "policy file without a policy",
			args:       []string{"check", "--policy", "testdata/bad/policy-none.yaml", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: --policy: testdata/bad/policy-none.yaml: no ClusterSeccompPolicy (apiVersion seccomp-guard.io/v1alpha1) in the file\n" + checkUsage,
		},
		{
			name:       "policy file that does not exist",
			args:       []string{"check", "--policy", "testdata/nope.yaml", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: --policy: testdata/nope.yaml: no such file or directory\n" + checkUsage,
		},
		{
			name:       "policy from stdin",
			args:       []string{"check", "--policy", "-", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: --policy does not read stdin: give a file\n" + checkUsage,
		},
		{
			name:       "inventory that does not exist",
			args:       []string{"check", "--inventory", "testdata/cluster", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: --inventory: testdata/cluster: no such file or directory\n" + checkUsage,
		},
		{
			name:       "inventory from stdin",
			args:       []string{"check", "--inventory", "-", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: --inventory does not read stdin: give a file or directory\n" + checkUsage,
		},
		{
			name:       "inventory that does not parse",
			args:       []string{"check", "--inventory", "testdata/bad/syntax.yaml", "testdata/small/unset.yaml"},
			wantCode:   exitUsage,
			wantStderr: "Error: --inventory: testdata/bad/syntax.yaml:11: invalid YAML: did not find expected key (in the block mapping that starts at line 8)\n" + checkUsage,
		},
		{
			name:     "inventory of other kinds",
			args:     []string{"check", "--inventory", "testdata/small/unset.yaml", "testdata/small/unset.yaml"},
			wantCode: exitOK,
			wantStdout: unsetDefaulted +
				"note: the --inventory files hold no Node: only pods with spec.nodeName can be checked against nodes\n" +
				"note: the --inventory files hold objects that are not Node, NodeSeccompInventory or Lease, which were ignored: v1 Pod: 1\n" + oneAdmitted,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.stdin, tc.args...)
			assert.Equal(t, tc.wantCode, code, "exit code")
			assert.Equal(t, tc.wantStdout, stdout, "stdout")
			assert.Equal(t, tc.wantStderr, stderr, "stderr")
		})
	}
}
