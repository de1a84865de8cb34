package violations

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Real lines, as this machine's kernel (6.18, x86_64) wrote them for a child
// process of TestLiveSources and for a busybox pod under SCMP_ACT_ERRNO.
const (
	kmsgLine    = `5,4833,22173459094,-;audit: type=1326 audit(1796182044.423:9): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=22478 comm="violations.test" exe="/tmp/go-build2106063311/b001/violations.test" sig=0 arch=c000003e syscall=110 compat=0 ip=0x595f4b code=0x7ffc0000`
	dmesgLine   = `[22104.832353] audit: type=1326 audit(1796181975.795:2): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=21125 comm="mkdir" exe="/bin/busybox" sig=0 arch=c000003e syscall=83 compat=0 ip=0x47b567 code=0x50000`
	dmesgTLine  = `[Wed Dec  2 03:27:23 2026] audit: type=1326 audit(1796182044.423:10): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=22478 comm="violations.test" exe="/tmp/go-build2106063311/b001/violations.test" sig=0 arch=c000003e syscall=121 compat=0 ip=0x40ba2e code=0x50000`
	journalLine = `Dec 02 03:27:23 node1 kernel: audit: type=1326 audit(1796182044.423:10): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=22478 comm="violations.test" exe="/tmp/go-build2106063311/b001/violations.test" sig=0 arch=c000003e syscall=121 compat=0 ip=0x40ba2e code=0x50000`
	// auditd's log, with the enriched fields after 0x1d, an AppArmor subject
	// with a space, aarch64 and a KILL_PROCESS.
	auditdLine  = "type=SECCOMP msg=audit(1796182100.001:731): auid=4294967295 uid=65534 gid=65534 ses=4294967295 subj=cri-containerd.apparmor.d (enforce) pid=4242 comm=\"mkdir\" exe=\"/bin/busybox\" sig=31 arch=c00000b7 syscall=34 compat=0 ip=0xffff9c0d1a2c code=0x80000000\x1dAUID=\"unset\" UID=\"nobody\" GID=\"nogroup\" ARCH=aarch64 SYSCALL=mkdirat"
	netlinkLine = `audit(1796182044.423:9): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=22478 comm="violations.test" exe="/tmp/go-build2106063311/b001/violations.test" sig=0 arch=c000003e syscall=110 compat=0 ip=0x595f4b code=0x7ffc0000`
)

func TestParseLine(t *testing.T) {
	at := func(sec, ms int64) time.Time { return time.Unix(sec, ms*int64(time.Millisecond)).UTC() }
	test := Record{Time: at(1796182044, 423), Serial: 9, PID: 22478, Comm: "violations.test",
		Exe: "/tmp/go-build2106063311/b001/violations.test", Arch: "x86_64", SyscallNr: 110, Syscall: "getppid", Action: ActionLog}
	getpgid := test
	getpgid.Serial, getpgid.SyscallNr, getpgid.Syscall, getpgid.Action = 10, 121, "getpgid", ActionErrno
	tests := []struct {
		name string
		line string
		want Record
		ok   bool
	}{
		{name: "kmsg", line: kmsgLine, ok: true, want: test},
		{name: "dmesg", line: dmesgLine, ok: true, want: Record{Time: at(1796181975, 795), Serial: 2, PID: 21125, Comm: "mkdir",
			Exe: "/bin/busybox", Arch: "x86_64", SyscallNr: 83, Syscall: "mkdir", Action: ActionErrno}},
		{name: "dmesg -T", line: dmesgTLine, ok: true, want: getpgid},
		{name: "journalctl -k", line: journalLine, ok: true, want: getpgid},
		{name: "netlink payload with a trailing NUL", line: netlinkLine + "\x00", ok: true, want: test},
		{name: "auditd enriched, apparmor subject, aarch64 kill", line: auditdLine, ok: true, want: Record{Time: at(1796182100, 1), Serial: 731,
			PID: 4242, Comm: "mkdir", Exe: "/bin/busybox", Arch: "aarch64", SyscallNr: 34, Syscall: "mkdirat", Action: ActionKillProcess}},
		{name: "auditd unknown type name, hex comm and exe", line: `type=UNKNOWN[1326] msg=audit(1.5:1): pid=7 comm=6D7920617070 exe=2F6F70742F6D7920617070 arch=c000003e syscall=2 code=0x30000` + "\n",
			ok: true, want: Record{Time: at(1, 500), Serial: 1, PID: 7, Comm: "my app", Exe: "/opt/my app", Arch: "x86_64", SyscallNr: 2, Syscall: "open", Action: ActionTrap}},
		{name: "kernel thread exe (null), i386 compat", line: `audit: type=1326 audit(2.000:3): pid=1 comm="init" exe=(null) sig=0 arch=40000003 syscall=5 compat=1 ip=0x1 code=0x0`,
			ok: true, want: Record{Time: at(2, 0), Serial: 3, PID: 1, Comm: "init", Arch: "i386", SyscallNr: 5, Syscall: "open", Action: ActionKillThread}},
		{name: "x32 syscall", line: `audit(3.000:4): pid=9 comm="a" exe="/a" arch=c000003e syscall=1073741825 code=0x7ff00000`,
			ok: true, want: Record{Time: at(3, 0), Serial: 4, PID: 9, Comm: "a", Exe: "/a", Arch: "x86_64", SyscallNr: 1073741825, Syscall: "write", Action: ActionTrace}},
		{name: "errno data, notify", line: `audit(3.000:5): pid=9 arch=c000003e syscall=83 code=0x50026`,
			ok: true, want: Record{Time: at(3, 0), Serial: 5, PID: 9, Arch: "x86_64", SyscallNr: 83, Syscall: "mkdir", Action: ActionErrno, Errno: 38}},
		{name: "user notif", line: `audit(3.000:6): pid=9 arch=c000003e syscall=83 code=0x7fc00000`,
			ok: true, want: Record{Time: at(3, 0), Serial: 6, PID: 9, Arch: "x86_64", SyscallNr: 83, Syscall: "mkdir", Action: ActionNotify}},
		{name: "unknown arch, syscall and action", line: `audit(3.000:7): pid=9 arch=c0000099 syscall=9999 code=0x12340000`,
			ok: true, want: Record{Time: at(3, 0), Serial: 7, PID: 9, Arch: "unknown(c0000099)", SyscallNr: 9999, Syscall: "syscall_9999", Action: "unknown(0x12340000)"}},
		{name: "arch without a table", line: `audit(3.000:8): pid=9 arch=c0000015 syscall=39 code=0x7fff0000`,
			ok: true, want: Record{Time: at(3, 0), Serial: 8, PID: 9, Arch: "ppc64le", SyscallNr: 39, Syscall: "syscall_39", Action: ActionAllow}},
		{name: "another audit type", line: `5,100,200,-;audit: type=1400 audit(1.000:1): apparmor="DENIED" operation="open"`},
		{name: "an unrelated kernel line", line: `[  1.000] eth0: link up`},
		{name: "empty", line: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseLine(tt.line)
			assert.NoError(t, err)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseLineMalformed(t *testing.T) {
	const ok = `pid=9 comm="a" exe="/a" arch=c000003e syscall=83 code=0x7ffc0000`
	tests := []struct {
		name string
		line string
		want string
	}{
		{name: "no header end", line: `audit: type=1326 audit(1.000:1) pid=9`,
			want: `malformed seccomp record: header audit(1.000:1) pid=9 has no "):" after audit(<seconds>.<milliseconds>:<serial>)`},
		{name: "no serial", line: `audit(1.000): ` + ok,
			want: `malformed seccomp record: header audit(1.000) is not audit(<seconds>.<milliseconds>:<serial>)`},
		{name: "no milliseconds", line: `audit(1:2): ` + ok,
			want: `malformed seccomp record: header audit(1:2) is not audit(<seconds>.<milliseconds>:<serial>)`},
		{name: "bad seconds", line: `type=SECCOMP msg=audit(x.000:2): ` + ok,
			want: `malformed seccomp record: header audit(x.000:2) is not audit(<seconds>.<milliseconds>:<serial>)`},
		{name: "bad serial", line: `audit(1.000:-2): ` + ok,
			want: `malformed seccomp record: header audit(1.000:-2) is not audit(<seconds>.<milliseconds>:<serial>)`},
		{name: "no pid", line: `audit(1.000:2): comm="a" arch=c000003e syscall=83 code=0x7ffc0000`,
			want: `malformed seccomp record: field pid= is missing`},
		{name: "bad pid", line: `audit(1.000:2): pid=-1 arch=c000003e syscall=83 code=0x7ffc0000`,
			want: `malformed seccomp record: field pid="-1" is not a process ID`},
		{name: "comm without closing quote", line: `audit(1.000:2): pid=9 comm="abc arch=c000003e syscall=83 code=0x7ffc0000`,
			want: `malformed seccomp record: field comm="abc arch=c000003e syscall=83 code=0x7ffc0000 has no closing quote`},
		{name: "exe neither quoted nor hex", line: `audit(1.000:2): pid=9 exe=/bin/sh arch=c000003e syscall=83 code=0x7ffc0000`,
			want: `malformed seccomp record: field exe=/bin/sh is neither a quoted string nor hex-encoded`},
		{name: "no arch", line: `audit(1.000:2): pid=9 syscall=83 code=0x7ffc0000`,
			want: `malformed seccomp record: field arch= is missing`},
		{name: "bad arch", line: `audit(1.000:2): pid=9 arch=x86_64 syscall=83 code=0x7ffc0000`,
			want: `malformed seccomp record: field arch="x86_64" is not a hexadecimal audit architecture such as c000003e`},
		{name: "no syscall", line: `audit(1.000:2): pid=9 arch=c000003e code=0x7ffc0000`,
			want: `malformed seccomp record: field syscall= is missing`},
		{name: "bad syscall", line: `audit(1.000:2): pid=9 arch=c000003e syscall=mkdir code=0x7ffc0000`,
			want: `malformed seccomp record: field syscall="mkdir" is not a syscall number`},
		{name: "no code", line: `audit(1.000:2): pid=9 arch=c000003e syscall=83`,
			want: `malformed seccomp record: field code= is missing`},
		{name: "code without 0x", line: `audit(1.000:2): pid=9 arch=c000003e syscall=83 code=7ffc0000`,
			want: `malformed seccomp record: field code="7ffc0000" is not a hexadecimal seccomp return value such as 0x7ffc0000`},
		{name: "code too large", line: `audit(1.000:2): pid=9 arch=c000003e syscall=83 code=0x17ffc0000`,
			want: `malformed seccomp record: field code="0x17ffc0000" is not a hexadecimal seccomp return value such as 0x7ffc0000`},
		{name: "long value clipped", line: `audit(1.000:2): pid=9 arch=c000003e syscall=` + strings.Repeat("9", 100) + ` code=0x0`,
			want: `malformed seccomp record: field syscall="` + strings.Repeat("9", 64) + `..." is not a syscall number`},
		{name: "line over 8 KiB", line: `audit(1.000:2): pid=9 comm="` + strings.Repeat("a", MaxLineBytes) + `"`,
			want: `line is longer than 8192 bytes, the most a seccomp record takes; not parsed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseLine(tt.line)
			assert.EqualError(t, err, tt.want)
			assert.False(t, ok)
			assert.Equal(t, Record{}, got)
		})
	}
}

func TestErrnoName(t *testing.T) {
	for errno, want := range map[int]string{1: "EPERM", 38: "ENOSYS", 0: "errno 0", 4095: "errno 4095"} {
		assert.Equal(t, want, ErrnoName(errno), "errno %d", errno)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, line := range []string{kmsgLine, dmesgLine, dmesgTLine, journalLine, auditdLine, netlinkLine} {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, ok, err := ParseLine(line)
		if err != nil && ok {
			t.Fatalf("ParseLine(%q) = ok and error %v", line, err)
		}
		if len(line) > MaxLineBytes && err == nil {
			t.Fatalf("ParseLine parsed a line of %d bytes", len(line))
		}
		if !ok && r != (Record{}) {
			t.Fatalf("ParseLine(%q) returned %+v with ok=false", line, r)
		}
		if ok && (r.Syscall == "" || r.Arch == "" || r.Action == "") {
			t.Fatalf("ParseLine(%q) = %+v: a parsed record names its syscall, arch and action", line, r)
		}
	})
}
