package violations

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// archInfos are the architectures whose syscall tables go-seccomp-bpf ships
// (Linux 6.15), by audit architecture. x32 shares x86_64's audit
// architecture and is told apart by the syscall number's x32 bit.
var archInfos = func() map[arch.AuditArch]*arch.Info {
	m := map[arch.AuditArch]*arch.Info{}
	for _, info := range []*arch.Info{arch.X86_64, arch.AARCH64, arch.I386, arch.ARM} {
		m[info.ID] = info
	}
	return m
}()

// x32Bit marks an x32 syscall number on x86_64 (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// syscallName names a record's audit architecture and syscall number.
func syscallName(auditArch uint32, nr int) (archName, syscall string) {
	id := arch.AuditArch(auditArch)
	archName = id.String()
	if strings.HasPrefix(archName, "unknown[") {
		archName = fmt.Sprintf("unknown(%x)", auditArch)
	}
	info := archInfos[id]
	if info == arch.X86_64 && nr&x32Bit != 0 {
		info, nr = arch.X32, nr&^x32Bit
	}
	if info != nil {
		if name, ok := info.SyscallNumbers[nr]; ok {
			return archName, name
		}
	}
	return archName, unnamedPrefix + strconv.Itoa(nr)
}

// unnamedPrefix starts the name of a syscall number the arch's table does
// not know: "syscall_<nr>".
const unnamedPrefix = "syscall_"

// Named reports whether a record's syscall has a name in its
// architecture's table: not empty, and not "syscall_<nr>". Only named
// syscalls are a bounded set (metric labels) and can be allowed by name
// in a profile.
func Named(syscall string) bool {
	return syscall != "" && !strings.HasPrefix(syscall, unnamedPrefix)
}

// The SECCOMP_RET_* actions, in the high 16 bits of a record's code.
var actionNames = map[uint32]Action{
	0x80000000: ActionKillProcess,
	0x00000000: ActionKillThread,
	0x00030000: ActionTrap,
	0x00050000: ActionErrno,
	0x7fc00000: ActionNotify,
	0x7ff00000: ActionTrace,
	0x7ffc0000: ActionLog,
	0x7fff0000: ActionAllow,
}

// actionOf names the action of a record's code (SECCOMP_RET_ACTION_FULL).
func actionOf(code uint32) Action {
	if a, ok := actionNames[code&0xffff0000]; ok {
		return a
	}
	return Action(fmt.Sprintf("unknown(0x%08x)", code&0xffff0000))
}

// ErrnoName is the symbolic name of a record's errno, such as "EPERM", or
// "errno <n>" when Linux has no name for it.
func ErrnoName(errno int) string {
	if name := unix.ErrnoName(unix.Errno(errno)); name != "" && errno > 0 {
		return name
	}
	return "errno " + strconv.Itoa(errno)
}
