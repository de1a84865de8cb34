package inventory

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "profiles", name))
	require.NoError(t, err)
	return b
}

func TestRuntimeFromVersion(t *testing.T) {
	cases := []struct {
		name, version string
		want          Runtime
		wantNote      string
	}{
		{name: "containerd", version: "containerd://1.7.0", want: RuntimeContainerd},
		{name: "containerd 2", version: "containerd://2.1.3", want: RuntimeContainerd},
		{name: "CRI-O", version: "cri-o://1.30.1", want: RuntimeCRIO},
		{
			name: "not reported", version: "", want: RuntimeContainerd,
			wantNote: "the Node does not report its container runtime (status.nodeInfo.containerRuntimeVersion is empty); profiles are validated as containerd reads them",
		},
		{
			name: "unknown runtime", version: "docker://24.0.7", want: RuntimeContainerd,
			wantNote: `container runtime "docker://24.0.7" is not one the agent knows (containerd, cri-o); profiles are validated as containerd reads them`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, note := RuntimeFromVersion(tc.version)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantNote, note)
		})
	}
}

func TestValidateProfile(t *testing.T) {
	type want struct {
		valid         bool
		reason        string
		defaultAction string
		warnings      []string
	}
	cases := []struct {
		name string
		data []byte
		// containerd and crio are what each runtime makes of data; crio
		// defaults to containerd's verdict.
		containerd want
		crio       *want
	}{
		{
			name:       "valid",
			data:       fixture(t, "valid.json"),
			containerd: want{valid: true, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name:       "allow by default is valid (the policy decides about it)",
			data:       fixture(t, "allow-by-default.json"),
			containerd: want{valid: true, defaultAction: "SCMP_ACT_ALLOW"},
		},
		{
			name:       "invalid JSON: line and column of the offending character",
			data:       fixture(t, "invalid-json.json"),
			containerd: want{reason: `invalid JSON at line 4, column 24: invalid character '"' after object key:value pair`},
		},
		{
			name:       "truncated JSON",
			data:       []byte("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"),
			containerd: want{reason: "invalid JSON at line 2, column 37: unexpected end of JSON input"},
		},
		{
			name:       "trailing garbage",
			data:       []byte(`{"defaultAction": "SCMP_ACT_ERRNO"} x`),
			containerd: want{reason: "invalid JSON at line 1, column 37: invalid character 'x' after top-level value"},
		},
		{
			name:       "empty file",
			data:       []byte(" \n"),
			containerd: want{reason: "empty file"},
		},
		{
			name:       "not an object",
			data:       []byte(`["SCMP_ACT_ERRNO"]`),
			containerd: want{reason: "not a seccomp profile: the file holds an array, not a JSON object"},
		},
		{
			name:       "wrong type",
			data:       []byte("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [{\"names\": [\"read\", 7], \"action\": \"SCMP_ACT_ALLOW\"}]\n}"),
			containerd: want{reason: "wrong type in syscalls[0].names[1] at line 3: want a string, found a number"},
		},
		{
			name:       "negative errno",
			data:       []byte("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"defaultErrnoRet\": -1\n}"),
			containerd: want{reason: "wrong type in defaultErrnoRet at line 3: want a non-negative integer, found the number -1"},
		},
		{
			name:       "null is a profile without defaultAction",
			data:       []byte("null"),
			containerd: want{reason: "missing defaultAction"},
		},
		{
			name:       "missing defaultAction",
			data:       fixture(t, "no-default-action.json"),
			containerd: want{reason: "missing defaultAction"},
		},
		{
			name:       "unknown action",
			data:       fixture(t, "unknown-action.json"),
			containerd: want{reason: `unknown action "SCMP_ACT_KILLME" in syscalls[1].action at line 5`, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name:       "unknown default action",
			data:       []byte(`{"defaultAction": "SCMP_ACT_DENY"}`),
			containerd: want{reason: `unknown action "SCMP_ACT_DENY" in defaultAction at line 1`, defaultAction: "SCMP_ACT_DENY"},
		},
		{
			name:       "SCMP_ACT_NOTIFY cannot be the default",
			data:       []byte(`{"defaultAction": "SCMP_ACT_NOTIFY"}`),
			containerd: want{reason: `SCMP_ACT_NOTIFY cannot be the default action in defaultAction at line 1`, defaultAction: "SCMP_ACT_NOTIFY"},
		},
		{
			name:       "a syscall rule without action",
			data:       []byte("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [{\"names\": [\"read\"]}]}"),
			containerd: want{reason: `missing action in syscalls[0] at line 2`, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name:       "unknown architecture",
			data:       fixture(t, "unknown-arch.json"),
			containerd: want{reason: `unknown architecture "SCMP_ARCH_Z80" in architectures[1] at line 5`, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name:       "empty syscall name",
			data:       fixture(t, "empty-name.json"),
			containerd: want{reason: `empty syscall name in syscalls[0].names[1] at line 5`, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name:       "unknown operator and flag, and a count of the rest",
			data:       []byte("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"flags\": [\"SECCOMP_FILTER_FLAG_FAST\"],\n\"syscalls\": [{\"names\": [\"x\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_ABOUT\"}]}],\n\"architectures\": [\"SCMP_ARCH_PDP11\"]}"),
			containerd: want{reason: `unknown architecture "SCMP_ARCH_PDP11" in architectures[0] at line 4 (and 2 more problems)`, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name:       "keys match case-insensitively, as encoding/json matches them",
			data:       []byte(`{"DefaultAction": "SCMP_ACT_ERRNO", "SYSCALLS": [{"Names": ["read"], "Action": "SCMP_ACT_ALLOW"}]}`),
			containerd: want{valid: true, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name: "moby-only fields: ignored by containerd, read by CRI-O",
			data: fixture(t, "moby-only.json"),
			containerd: want{valid: true, defaultAction: "SCMP_ACT_ERRNO", warnings: []string{
				"archMap is ignored by containerd (only moby and CRI-O read it); list the architectures in architectures instead",
				"syscalls[1].includes is ignored by containerd (only moby and CRI-O read it): the rule applies unconditionally",
			}},
			crio: &want{valid: true, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name: "the legacy singular name: ignored by containerd, read by CRI-O",
			data: []byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW", "comment": "why"}]}`),
			containerd: want{valid: true, defaultAction: "SCMP_ACT_ERRNO", warnings: []string{
				"syscalls[0].name is ignored by containerd (only moby and CRI-O read it), so the rule has no effect; use names",
			}},
			crio: &want{valid: true, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name: "unknown fields",
			data: []byte(`{"defaultAction": "SCMP_ACT_ERRNO", "owner": "team-a", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "when": "always"}, {"names": [], "action": "SCMP_ACT_ALLOW"}]}`),
			containerd: want{valid: true, defaultAction: "SCMP_ACT_ERRNO", warnings: []string{
				`unknown field "owner" is ignored by containerd`,
				`unknown field "when" in syscalls[0] is ignored by containerd`,
				"syscalls[1] names no syscall and has no effect",
			}},
			crio: &want{valid: true, defaultAction: "SCMP_ACT_ERRNO", warnings: []string{
				`unknown field "owner" is ignored by CRI-O`,
				`unknown field "when" in syscalls[0] is ignored by CRI-O`,
				"syscalls[1] names no syscall and has no effect",
			}},
		},
		{
			name:       "CRI-O refuses architectures with archMap",
			data:       []byte("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n\"architectures\": [\"SCMP_ARCH_X86_64\"],\n\"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_8086\"]}]}"),
			containerd: want{valid: true, defaultAction: "SCMP_ACT_ERRNO", warnings: []string{"archMap is ignored by containerd (only moby and CRI-O read it); list the architectures in architectures instead"}},
			crio:       &want{reason: `both architectures and archMap are set; use one of them in archMap at line 3 (and 1 more problem)`, defaultAction: "SCMP_ACT_ERRNO"},
		},
		{
			name:       "CRI-O refuses name with names",
			data:       []byte(`{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`),
			containerd: want{valid: true, defaultAction: "SCMP_ACT_ERRNO", warnings: []string{"syscalls[0].name is ignored by containerd (only moby and CRI-O read it), so the rule has no effect; use names"}},
			crio:       &want{reason: `both name and names are set; use names in syscalls[0].name at line 1`, defaultAction: "SCMP_ACT_ERRNO"},
		},
	}
	for _, tc := range cases {
		for _, rt := range []Runtime{RuntimeContainerd, RuntimeCRIO} {
			t.Run(tc.name+"/"+string(rt), func(t *testing.T) {
				w := tc.containerd
				if rt == RuntimeCRIO && tc.crio != nil {
					w = *tc.crio
				}
				got := ValidateProfile(tc.data, rt)
				got.SilentActions = nil // TestSilentActions
				assert.Equal(t, Validation{Valid: w.valid, Reason: w.reason, DefaultAction: w.defaultAction, Warnings: w.warnings}, got)
			})
		}
	}
}

// FuzzValidateProfile: any input gets a verdict, never a panic, and an
// invalid verdict always has a reason.
func FuzzValidateProfile(f *testing.F) {
	for _, name := range []string{"valid.json", "invalid-json.json", "moby-only.json", "unknown-action.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "profiles", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, rt := range []Runtime{RuntimeContainerd, RuntimeCRIO} {
			v := ValidateProfile(data, rt)
			if v.Valid == (v.Reason != "") {
				t.Fatalf("%s: valid=%v with reason %q", rt, v.Valid, v.Reason)
			}
		}
	})
}

// TestSilentActions: the refusing actions the kernel does not log without
// SECCOMP_FILTER_FLAG_LOG, for both runtimes' formats.
func TestSilentActions(t *testing.T) {
	cases := []struct {
		name string
		data string
		want []string
	}{
		{"errno by default", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, []string{"SCMP_ACT_ERRNO"}},
		{"errno and trap rules", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},{"names":["ptrace"],"action":"SCMP_ACT_TRAP"}]}`, []string{"SCMP_ACT_ERRNO", "SCMP_ACT_TRAP"}},
		{"the log flag makes them visible", `{"defaultAction":"SCMP_ACT_ERRNO","flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, nil},
		{"log and kill are always logged", `{"defaultAction":"SCMP_ACT_KILL_PROCESS","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG"}]}`, nil},
	}
	for _, tc := range cases {
		for _, rt := range []Runtime{RuntimeContainerd, RuntimeCRIO} {
			t.Run(tc.name+"/"+string(rt), func(t *testing.T) {
				assert.Equal(t, tc.want, ValidateProfile([]byte(tc.data), rt).SilentActions)
			})
		}
	}
}
