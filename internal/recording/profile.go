package recording

// Building: a least-privilege Localhost profile from a merged recording.
// The profile refuses every syscall with EPERM (defaultAction
// SCMP_ACT_ERRNO, defaultErrnoRet 1) except those the recording observed and
// the runtime baseline (baseline.go), for the recorded architectures. With
// the flag SECCOMP_FILTER_FLAG_LOG, each refusal leaves an audit record that
// the violation monitor reports (docs/violations.md); runc before 1.2
// refuses flagged profiles, hence Options.NoLogFlag.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/internal/violations"
	"github.com/seccomp-guard/seccomp-guard/inventory"
)

// Options tune Build.
type Options struct {
	// NoLogFlag leaves out SECCOMP_FILTER_FLAG_LOG, for nodes whose runc is
	// older than 1.2 (it refuses profiles with flags). Default false: the
	// flag is set, and refusals are logged.
	NoLogFlag bool
}

// Profile is a built profile and what the operator should know about it.
type Profile struct {
	Recording Recording
	// JSON is the profile, indented, with a trailing newline.
	JSON []byte
	// Seccomp is the profile as the OCI runtime spec types hold it.
	Seccomp specs.LinuxSeccomp
	// Recorded are the recording's syscalls allowed by name (after renames);
	// Baseline the runtime baseline's names the recording lacked.
	Recorded, Baseline []string
	// Notes say what the profile cannot do (unnamed syscalls, names an old
	// libseccomp does not know, no architecture recorded).
	Notes []string
}

// The profile's fixed parts.
const (
	defaultAction = specs.ActErrno
	// errnoEPERM is defaultErrnoRet: what a refused syscall returns.
	errnoEPERM = 1
)

// auditToSeccompArch maps the kernel's audit architecture names (as the
// agent records them, from go-seccomp-bpf's arch tables) to the OCI
// runtime spec's. libseccomp's SCMP_ARCH_SH is little-endian SH ("shel"),
// SCMP_ARCH_SHEB big-endian ("sh").
var auditToSeccompArch = map[string]specs.Arch{
	"x86_64": specs.ArchX86_64, "i386": specs.ArchX86, "x32": specs.ArchX32,
	"aarch64": specs.ArchAARCH64, "arm": specs.ArchARM,
	"mips": specs.ArchMIPS, "mipsel": specs.ArchMIPSEL, "mips64": specs.ArchMIPS64, "mips64n32": specs.ArchMIPS64N32,
	"mipsel64": specs.ArchMIPSEL64, "mipsel64n32": specs.ArchMIPSEL64N32,
	"ppc": specs.ArchPPC, "ppc64": specs.ArchPPC64, "ppc64le": specs.ArchPPC64LE,
	"s390": specs.ArchS390, "s390x": specs.ArchS390X,
	"parisc": specs.ArchPARISC, "parisc64": specs.ArchPARISC64,
	"riscv64": specs.ArchRISCV64, "loongarch64": specs.ArchLOONGARCH64,
	"m68k": specs.ArchM68K, "shel": specs.ArchSH, "sh": specs.ArchSHEB,
}

// SeccompArchitecture maps an audit architecture name ("x86_64") to the
// seccomp profile's ("SCMP_ARCH_X86_64").
func SeccompArchitecture(auditArch string) (specs.Arch, bool) {
	a, ok := auditToSeccompArch[auditArch]
	return a, ok
}

// libseccompNames are the kernel tables' names that libseccomp knows by
// another name: arm64's syscall 79 is __NR3264_fstatat in
// asm-generic/unistd.h (go-seccomp-bpf says "fstatat"), newfstatat to
// libseccomp.
var libseccompNames = map[string]string{"fstatat": "newfstatat"}

// notSyscalls are table entries that are no syscall: asm-generic's
// __NR_arch_specific_syscall is the base of the architecture's own range.
var notSyscalls = map[string]bool{"arch_specific_syscall": true}

// newerThanLibseccomp25 are syscalls of Linux 6.8 to 6.15 that libseccomp
// 2.5 (Debian 12, Ubuntu 24.04, RHEL 9) does not know by name. runc skips a
// name its libseccomp cannot resolve, so they stay refused on such nodes.
var newerThanLibseccomp25 = map[string]bool{
	"getxattrat": true, "listmount": true, "listxattrat": true, "lsm_get_self_attr": true,
	"lsm_list_modules": true, "lsm_set_self_attr": true, "mseal": true, "open_tree_attr": true,
	"removexattrat": true, "setxattrat": true, "statmount": true, "uretprobe": true,
}

// syscallName is what a syscall name in a profile looks like.
var syscallName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Build makes the least-privilege profile of one merged recording. It
// fails when the recording holds something a profile cannot say (a name
// that is no syscall name, an architecture seccomp does not know) and when
// the result would not pass the agent's validation for containerd and
// CRI-O or would allow by default.
func Build(rec Recording, opts Options) (*Profile, error) {
	p := &Profile{Recording: rec}
	allowed := map[string]bool{}
	var unnamed []string
	var newer []string
	for _, name := range rec.Syscalls {
		switch {
		case notSyscalls[name]:
			continue
		case name != "" && !violations.Named(name):
			unnamed = append(unnamed, name)
			continue
		case !syscallName.MatchString(name):
			return nil, fmt.Errorf("the recording of %s (nodes %s) lists %q, which is not a syscall name: the NodeSeccompInventory was not written by the agent; delete the recording entry and record again",
				rec.Key(), strings.Join(rec.Nodes, ", "), name)
		}
		if alias, ok := libseccompNames[name]; ok {
			name = alias
		}
		if newerThanLibseccomp25[name] {
			newer = append(newer, name)
		}
		allowed[name] = true
	}
	p.Recorded = sortedKeys(allowed)
	for _, name := range baselineSyscalls() {
		if !allowed[name] {
			p.Baseline = append(p.Baseline, name)
			allowed[name] = true
		}
	}

	s := specs.LinuxSeccomp{DefaultAction: defaultAction, DefaultErrnoRet: ptr(uint(errnoEPERM))}
	for _, a := range rec.Architectures {
		sa, ok := SeccompArchitecture(a)
		if !ok {
			return nil, fmt.Errorf("the recording of %s (nodes %s) has syscalls of architecture %q, which seccomp profiles cannot name; known are %s",
				rec.Key(), strings.Join(rec.Nodes, ", "), a, strings.Join(knownAuditArches(), ", "))
		}
		if !slices.Contains(s.Architectures, sa) {
			s.Architectures = append(s.Architectures, sa)
		}
	}
	slices.Sort(s.Architectures)
	if !opts.NoLogFlag {
		s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}
	}
	s.Syscalls = []specs.LinuxSyscall{{Names: sortedKeys(allowed), Action: specs.ActAllow}}
	p.Seccomp = s

	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	p.JSON = b
	if err := checkProfile(p.JSON); err != nil {
		return nil, fmt.Errorf("the profile built from the recording of %s %w; this is a bug in seccomp-guard, please report it with the recording (kubectl get nodeseccompinventories -o yaml)", rec.Key(), err)
	}

	if rec.UnnamedSyscalls > 0 || len(unnamed) > 0 {
		n := rec.UnnamedSyscalls
		if n == 0 {
			n = int64(len(unnamed))
		}
		p.Notes = append(p.Notes, fmt.Sprintf("%d %s of syscall numbers without a name in the kernel's tables (%s): a profile allows syscalls by name only, so these stay refused; if the workload needs them, add them by hand",
			n, plural(n, "record", "records"), orNone(unnamed)))
	}
	if len(newer) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%s %s newer than libseccomp 2.5 knows: runc skips names its libseccomp cannot resolve, so on nodes with libseccomp older than 2.6 they stay refused",
			strings.Join(newer, ", "), plural(int64(len(newer)), "is", "are")))
	}
	if len(rec.Architectures) == 0 {
		p.Notes = append(p.Notes, "the recording names no architecture: the profile lists none, and the runtime allows the syscalls for the node's native architecture only")
	}
	if opts.NoLogFlag {
		p.Notes = append(p.Notes, "without SECCOMP_FILTER_FLAG_LOG the profile's refusals leave no audit record: the violation monitor cannot report them (docs/violations.md#4-silent-refusals)")
	}
	return p, nil
}

// checkProfile is Build's guard: the profile must be valid for both runtimes
// the agent validates for, and must not allow by default.
func checkProfile(data []byte) error {
	for _, rt := range []inventory.Runtime{inventory.RuntimeContainerd, inventory.RuntimeCRIO} {
		v := inventory.ValidateProfile(data, rt)
		if !v.Valid {
			return fmt.Errorf("is not valid for %s: %s", rt, v.Reason)
		}
		if v.DefaultAction == string(specs.ActAllow) || v.DefaultAction == string(specs.ActLog) {
			return fmt.Errorf("allows by default (defaultAction %s)", v.DefaultAction)
		}
	}
	return nil
}

// BuildAll merges the recordings of every inventory, selects those of sel
// and builds a profile for each selected container, sorted by container.
// It is what `seccomp-guard profile record` does before writing.
func BuildAll(invs []*v1alpha1.NodeSeccompInventory, sel Selector, opts Options) ([]*Profile, error) {
	recs, err := Select(Merge(invs), sel)
	if err != nil {
		return nil, err
	}
	out := make([]*Profile, 0, len(recs))
	for _, r := range recs {
		p, err := Build(r, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Recording.Container < out[j].Recording.Container })
	return out, nil
}

// Summary is one line about a built profile, for the operator.
func (p *Profile) Summary() string {
	r := p.Recording
	return fmt.Sprintf("%s: %d syscalls allowed (%d recorded, %d runtime baseline), %d %s from %d %s on %d %s (%s), last seen %s",
		r.Key(), len(p.Seccomp.Syscalls[0].Names), len(p.Recorded), len(p.Baseline),
		r.Records, plural(r.Records, "record", "records"), r.Pods, plural(int64(r.Pods), "pod", "pods"),
		len(r.Nodes), plural(int64(len(r.Nodes)), "node", "nodes"), strings.Join(r.Nodes, ", "), lastSeen(r.LastSeen))
}

func knownAuditArches() []string {
	out := make([]string, 0, len(auditToSeccompArch))
	for a := range auditToSeccompArch {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "numbers not listed by the agent"
	}
	return strings.Join(names, ", ")
}

func ptr[T any](v T) *T { return &v }
