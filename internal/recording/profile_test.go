package recording

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/inventory"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func at(minutes int) *metav1.Time {
	return &metav1.Time{Time: t0.Add(time.Duration(minutes) * time.Minute)}
}

// rec is a node's recording of one container; tweak changes it.
func rec(ns, workload, container string, syscalls ...string) v1alpha1.RecordingStatus {
	return v1alpha1.RecordingStatus{Namespace: ns, Workload: workload, Container: container, Architectures: []string{"x86_64"},
		Syscalls: syscalls, Records: 10, Pods: 1, FirstSeen: at(0), LastSeen: at(5)}
}

func node(name string, recs ...v1alpha1.RecordingStatus) *v1alpha1.NodeSeccompInventory {
	return &v1alpha1.NodeSeccompInventory{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: v1alpha1.NodeSeccompInventoryStatus{Recordings: recs}}
}

func TestMerge(t *testing.T) {
	a := rec("shop", "Deployment/web", "app", "read", "write")
	a.Pods, a.Records, a.FirstSeen, a.LastSeen = 2, 100, at(3), at(9)
	b := rec("shop", "Deployment/web", "app", "openat", "write")
	b.Architectures = []string{"aarch64"}
	b.UnnamedSyscalls, b.FirstSeen, b.LastSeen = 3, at(1), at(4)
	side := rec("shop", "Deployment/web", "sidecar", "nanosleep")
	other := rec("other", "Deployment/web", "app", "bpf")
	got := Merge([]*v1alpha1.NodeSeccompInventory{node("node-b", b, side), nil, node("node-a", a, other), node("node-c")})
	want := []Recording{
		{Namespace: "other", Workload: "Deployment/web", Container: "app", Nodes: []string{"node-a"}, Architectures: []string{"x86_64"},
			Syscalls: []string{"bpf"}, Records: 10, Pods: 1, FirstSeen: at(0), LastSeen: at(5)},
		{Namespace: "shop", Workload: "Deployment/web", Container: "app", Nodes: []string{"node-a", "node-b"}, Architectures: []string{"aarch64", "x86_64"},
			Syscalls: []string{"openat", "read", "write"}, UnnamedSyscalls: 3, Records: 110, Pods: 3, FirstSeen: at(1), LastSeen: at(9)},
		{Namespace: "shop", Workload: "Deployment/web", Container: "sidecar", Nodes: []string{"node-b"}, Architectures: []string{"x86_64"},
			Syscalls: []string{"nanosleep"}, Records: 10, Pods: 1, FirstSeen: at(0), LastSeen: at(5)},
	}
	assert.Equal(t, want, got)
}

func TestSelect(t *testing.T) {
	recs := Merge([]*v1alpha1.NodeSeccompInventory{node("n1",
		rec("shop", "Deployment/web", "app", "read"), rec("shop", "Deployment/web", "sidecar", "read"),
		rec("shop", "Job/migrate", "job", "read"))})
	tests := []struct {
		name           string
		sel            Selector
		wantContainers []string
		wantErr        string
	}{
		{name: "every container", sel: Selector{Namespace: "shop", Workload: "Deployment/web"}, wantContainers: []string{"app", "sidecar"}},
		{name: "one container", sel: Selector{Namespace: "shop", Workload: "Deployment/web", Container: "sidecar"}, wantContainers: []string{"sidecar"}},
		{name: "kind in lower case", sel: Selector{Namespace: "shop", Workload: "deployment/web", Container: "app"}, wantContainers: []string{"app"}},
		{name: "name is exact", sel: Selector{Namespace: "shop", Workload: "Deployment/Web"},
			wantErr: "no node has a recording of Deployment/Web in namespace shop (the namespace has recordings of Deployment/web, Job/migrate); " +
				"check that the namespace is labelled seccomp-guard.io/recording=enabled (kubectl get namespace shop --show-labels), " +
				"that the pods are annotated seccomp-guard.io/record=true and were created after the label was set (they run under localhost/seccomp-guard/recording.json), " +
				"that the agent runs with recording enabled, and that the workload made syscalls since; seccomp-guard profile recordings lists what is recorded"},
		{name: "namespace without recordings", sel: Selector{Namespace: "prod", Workload: "Deployment/web"},
			wantErr: "no node has a recording of Deployment/web in namespace prod; " +
				"check that the namespace is labelled seccomp-guard.io/recording=enabled (kubectl get namespace prod --show-labels), " +
				"that the pods are annotated seccomp-guard.io/record=true and were created after the label was set (they run under localhost/seccomp-guard/recording.json), " +
				"that the agent runs with recording enabled, and that the workload made syscalls since; seccomp-guard profile recordings lists what is recorded"},
		{name: "unknown container", sel: Selector{Namespace: "shop", Workload: "Deployment/web", Container: "db"},
			wantErr: `Deployment/web in namespace shop has no recording of container "db"; the recorded containers are app, sidecar: give one of them to --container, or leave --container out for all`},
		{name: "workload without kind", sel: Selector{Namespace: "shop", Workload: "web"},
			wantErr: `--workload "web" is not Kind/name: give the pods' top-level owner as the recordings name it, e.g. Deployment/web or Pod/debug (seccomp-guard profile recordings lists them)`},
		{name: "no namespace", sel: Selector{Workload: "Deployment/web"},
			wantErr: "no namespace: give --namespace (-n) with the namespace of the recorded workload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(recs, tt.sel)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var containers []string
			for _, r := range got {
				containers = append(containers, r.Container)
			}
			assert.Equal(t, tt.wantContainers, containers)
		})
	}

	t.Run("no recordings at all", func(t *testing.T) {
		_, err := Select(nil, Selector{Namespace: "shop", Workload: "Pod/debug"})
		assert.ErrorContains(t, err, "no node has a recording of Pod/debug in namespace shop (no NodeSeccompInventory holds any recording); check that")
	})
}

func TestBuild(t *testing.T) {
	base := Recording{Namespace: "shop", Workload: "Deployment/web", Container: "app", Nodes: []string{"n1", "n2"},
		Architectures: []string{"x86_64"}, Syscalls: []string{"accept4", "read", "write"}, Records: 20, Pods: 2, LastSeen: at(5)}
	tests := []struct {
		name      string
		tweak     func(r *Recording)
		opts      Options
		wantArchs []specs.Arch
		wantFlags []specs.LinuxSeccompFlag
		// wantAllowed must be allowed, wantRefused must not.
		wantAllowed, wantRefused []string
		wantRecorded             []string
		wantNotes                []string
		wantErr                  string
	}{
		{name: "recorded syscalls and the baseline", wantArchs: []specs.Arch{specs.ArchX86_64}, wantFlags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
			wantAllowed: []string{"accept4", "read", "write", "execve", "futex", "capset", "openat2"}, wantRefused: []string{"bpf", "ptrace", "mount"},
			wantRecorded: []string{"accept4", "read", "write"}},
		{name: "no log flag", opts: Options{NoLogFlag: true}, wantArchs: []specs.Arch{specs.ArchX86_64},
			wantRecorded: []string{"accept4", "read", "write"},
			wantNotes:    []string{"without SECCOMP_FILTER_FLAG_LOG the profile's refusals leave no audit record: the violation monitor cannot report them (docs/violations.md#4-silent-refusals)"}},
		{name: "architectures mapped and sorted", tweak: func(r *Recording) { r.Architectures = []string{"aarch64", "arm", "i386", "x86_64"} },
			wantArchs: []specs.Arch{specs.ArchAARCH64, specs.ArchARM, specs.ArchX86, specs.ArchX86_64}, wantFlags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
			wantRecorded: []string{"accept4", "read", "write"}},
		{name: "no architecture recorded", tweak: func(r *Recording) { r.Architectures = nil }, wantFlags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
			wantRecorded: []string{"accept4", "read", "write"},
			wantNotes:    []string{"the recording names no architecture: the profile lists none, and the runtime allows the syscalls for the node's native architecture only"}},
		{name: "arm64 fstatat is newfstatat to libseccomp", tweak: func(r *Recording) {
			r.Architectures, r.Syscalls = []string{"aarch64"}, []string{"arch_specific_syscall", "fstatat", "read"}
		}, wantArchs: []specs.Arch{specs.ArchAARCH64}, wantFlags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
			wantAllowed: []string{"newfstatat"}, wantRefused: []string{"fstatat", "arch_specific_syscall"}, wantRecorded: []string{"newfstatat", "read"}},
		{name: "unnamed syscalls", tweak: func(r *Recording) { r.UnnamedSyscalls = 4; r.Syscalls = append(r.Syscalls, "syscall_999") },
			wantArchs: []specs.Arch{specs.ArchX86_64}, wantFlags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
			wantRefused: []string{"syscall_999"}, wantRecorded: []string{"accept4", "read", "write"},
			wantNotes: []string{"4 records of syscall numbers without a name in the kernel's tables (syscall_999): a profile allows syscalls by name only, so these stay refused; if the workload needs them, add them by hand"}},
		{name: "unnamed count only", tweak: func(r *Recording) { r.UnnamedSyscalls = 1 },
			wantArchs: []specs.Arch{specs.ArchX86_64}, wantFlags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, wantRecorded: []string{"accept4", "read", "write"},
			wantNotes: []string{"1 record of syscall numbers without a name in the kernel's tables (numbers not listed by the agent): a profile allows syscalls by name only, so these stay refused; if the workload needs them, add them by hand"}},
		{name: "names newer than libseccomp 2.5", tweak: func(r *Recording) { r.Syscalls = []string{"mseal", "read", "statmount"} },
			wantArchs: []specs.Arch{specs.ArchX86_64}, wantFlags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
			wantAllowed: []string{"mseal", "statmount"}, wantRecorded: []string{"mseal", "read", "statmount"},
			wantNotes: []string{"mseal, statmount are newer than libseccomp 2.5 knows: runc skips names its libseccomp cannot resolve, so on nodes with libseccomp older than 2.6 they stay refused"}},
		{name: "not a syscall name", tweak: func(r *Recording) { r.Syscalls = []string{"read", ""} },
			wantErr: `the recording of namespace shop, Deployment/web, container app (nodes n1, n2) lists "", which is not a syscall name: the NodeSeccompInventory was not written by the agent; delete the recording entry and record again`},
		{name: "unknown architecture", tweak: func(r *Recording) { r.Architectures = []string{"unknown[42]"} },
			wantErr: `the recording of namespace shop, Deployment/web, container app (nodes n1, n2) has syscalls of architecture "unknown[42]", which seccomp profiles cannot name; known are aarch64, arm, i386, loongarch64, m68k, mips, mips64, mips64n32, mipsel, mipsel64, mipsel64n32, parisc, parisc64, ppc, ppc64, ppc64le, riscv64, s390, s390x, sh, shel, x32, x86_64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			r.Nodes, r.Syscalls, r.Architectures = slices.Clone(base.Nodes), slices.Clone(base.Syscalls), slices.Clone(base.Architectures)
			if tt.tweak != nil {
				tt.tweak(&r)
			}
			p, err := Build(r, tt.opts)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)

			// The JSON is the profile, and what the runtimes read.
			var s specs.LinuxSeccomp
			require.NoError(t, json.Unmarshal(p.JSON, &s))
			assert.Equal(t, p.Seccomp, s)
			assert.Equal(t, byte('\n'), p.JSON[len(p.JSON)-1])
			for _, rt := range []inventory.Runtime{inventory.RuntimeContainerd, inventory.RuntimeCRIO} {
				v := inventory.ValidateProfile(p.JSON, rt)
				assert.True(t, v.Valid, "%s: %s", rt, v.Reason)
				assert.Equal(t, "SCMP_ACT_ERRNO", v.DefaultAction)
				assert.Empty(t, v.Warnings)
				if tt.opts.NoLogFlag {
					assert.Equal(t, []string{"SCMP_ACT_ERRNO"}, v.SilentActions, "without the flag, refusals are silent")
				} else {
					assert.Empty(t, v.SilentActions, "with the flag, refusals are logged")
				}
			}
			assert.Equal(t, specs.ActErrno, s.DefaultAction)
			require.NotNil(t, s.DefaultErrnoRet)
			assert.Equal(t, uint(1), *s.DefaultErrnoRet)
			assert.Equal(t, tt.wantArchs, s.Architectures)
			assert.Equal(t, tt.wantFlags, s.Flags)
			require.Len(t, s.Syscalls, 1)
			assert.Equal(t, specs.ActAllow, s.Syscalls[0].Action)
			names := s.Syscalls[0].Names
			assert.True(t, slices.IsSorted(names), "names sorted")
			assert.Equal(t, len(names), len(slices.Compact(slices.Clone(names))), "no duplicates")
			for _, n := range baselineSyscalls() {
				assert.Contains(t, names, n, "baseline")
			}
			for _, n := range tt.wantAllowed {
				assert.Contains(t, names, n)
			}
			for _, n := range tt.wantRefused {
				assert.NotContains(t, names, n)
			}
			assert.Equal(t, tt.wantRecorded, p.Recorded)
			assert.Equal(t, len(names), len(p.Recorded)+len(p.Baseline))
			assert.Equal(t, tt.wantNotes, p.Notes)
		})
	}
}

func TestBuildDeterministic(t *testing.T) {
	r := Recording{Namespace: "shop", Workload: "Deployment/web", Container: "app", Nodes: []string{"n1"},
		Architectures: []string{"x86_64", "aarch64"}, Syscalls: []string{"write", "read"}}
	p1, err := Build(r, Options{})
	require.NoError(t, err)
	p2, err := Build(r, Options{})
	require.NoError(t, err)
	assert.Equal(t, string(p1.JSON), string(p2.JSON))
	assert.Contains(t, string(p1.JSON), "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"defaultErrnoRet\": 1,\n  \"architectures\": [\n    \"SCMP_ARCH_AARCH64\",\n    \"SCMP_ARCH_X86_64\"\n  ],\n  \"flags\": [\n    \"SECCOMP_FILTER_FLAG_LOG\"\n  ],\n  \"syscalls\": [\n    {\n      \"names\": [\n        \"capget\",")
}

func TestCheckProfile(t *testing.T) {
	tests := []struct {
		name, profile, wantErr string
	}{
		{name: "errno", profile: `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`},
		{name: "allow by default", profile: `{"defaultAction":"SCMP_ACT_ALLOW"}`, wantErr: "allows by default (defaultAction SCMP_ACT_ALLOW)"},
		{name: "log by default", profile: `{"defaultAction":"SCMP_ACT_LOG"}`, wantErr: "allows by default (defaultAction SCMP_ACT_LOG)"},
		{name: "invalid", profile: `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_Z80"]}`,
			wantErr: `is not valid for containerd: unknown architecture "SCMP_ARCH_Z80" in architectures[0] at line 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkProfile([]byte(tt.profile))
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tt.wantErr)
		})
	}
}

func TestBaseline(t *testing.T) {
	names := baselineSyscalls()
	// What runc init cannot do without after the filter, in either place.
	for _, n := range []string{"execve", "futex", "write", "close", "openat", "capset", "setuid", "setgid", "setgroups", "prctl", "chdir", "getcwd", "getppid", "faccessat2", "newfstatat"} {
		assert.Contains(t, names, n)
	}
	for _, g := range runtimeBaseline {
		assert.NotEmpty(t, g.why)
		for _, n := range g.names {
			assert.Regexp(t, syscallName, n)
		}
	}
}

func TestBuildAll(t *testing.T) {
	invs := []*v1alpha1.NodeSeccompInventory{
		node("n1", rec("shop", "Deployment/web", "sidecar", "nanosleep"), rec("shop", "Deployment/web", "app", "read")),
		node("n2", rec("shop", "Deployment/web", "app", "accept4")),
	}
	ps, err := BuildAll(invs, Selector{Namespace: "shop", Workload: "Deployment/web"}, Options{})
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.Equal(t, "app", ps[0].Recording.Container)
	assert.Equal(t, []string{"accept4", "read"}, ps[0].Recorded)
	assert.Equal(t, "sidecar", ps[1].Recording.Container)
	assert.Equal(t, "namespace shop, Deployment/web, container app: 62 syscalls allowed (2 recorded, 60 runtime baseline), 20 records from 2 pods on 2 nodes (n1, n2), last seen 2026-12-01T10:05:00Z",
		ps[0].Summary())
}
