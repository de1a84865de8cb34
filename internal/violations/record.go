// Package violations reads the kernel's seccomp audit records (type 1326,
// SECCOMP) from the audit netlink multicast group, /dev/kmsg or a log file,
// and attributes them to containers and pods: PID to container ID through
// the host's /proc/<pid>/cgroup, container ID to pod through the pods'
// status.
//
// A record says which process made which syscall and what the filter did
// about it. The kernel writes one for SCMP_ACT_LOG, SCMP_ACT_KILL_*,
// SCMP_ACT_TRAP, and for SCMP_ACT_ERRNO only when the filter was loaded with
// SECCOMP_FILTER_FLAG_LOG.
package violations

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxLineBytes bounds a line ParseLine parses. A kernel log line is at most
// about 1 KiB and a seccomp record well under this; a longer line is refused
// with an error, not parsed.
const MaxLineBytes = 8192

// Action is the seccomp action of a record, as libseccomp names it:
// "SCMP_ACT_LOG", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS",
// "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE",
// "SCMP_ACT_NOTIFY", "SCMP_ACT_ALLOW", or "unknown(0x...)".
type Action string

// The actions the kernel logs.
const (
	ActionLog         Action = "SCMP_ACT_LOG"
	ActionErrno       Action = "SCMP_ACT_ERRNO"
	ActionKillProcess Action = "SCMP_ACT_KILL_PROCESS"
	ActionKillThread  Action = "SCMP_ACT_KILL_THREAD"
	ActionTrap        Action = "SCMP_ACT_TRAP"
	ActionTrace       Action = "SCMP_ACT_TRACE"
	ActionNotify      Action = "SCMP_ACT_NOTIFY"
	ActionAllow       Action = "SCMP_ACT_ALLOW"
)

// Record is one audit record of type 1326 (SECCOMP).
type Record struct {
	Time      time.Time // from audit(<sec>.<ms>:<serial>), in UTC
	Serial    uint64
	PID       int
	Comm, Exe string // decoded when the kernel hex-encoded them; Exe is "" for "(null)"
	Arch      string // "x86_64", "aarch64", ...; "unknown(c000003e)" when not known
	SyscallNr int
	Syscall   string // name from the arch's table; "syscall_<nr>" when not known
	Action    Action
	// Errno is, for SCMP_ACT_ERRNO, the low 16 bits of code. The kernel logs
	// the action without its data, so it is 0 in the records Linux writes
	// today: the errno a refusal returned is in the profile (errnoRet,
	// defaultErrnoRet), not in the record.
	Errno int
}

// The markers that start a seccomp record in each text format. The netlink
// payload has none: it starts with "audit(".
var recordMarkers = []string{
	"type=1326 audit(",              // /dev/kmsg, dmesg, journalctl -k: "audit: type=1326 audit(...)"
	"type=SECCOMP msg=audit(",       // auditd's log
	"type=UNKNOWN[1326] msg=audit(", // auditd that does not know the type's name
	"type=1326 msg=audit(",          // ausearch --raw of some versions
}

// ParseLine parses one line of any supported text format:
//
//   - /dev/kmsg: "6,1234,5678,-;audit: type=1326 audit(...): ...";
//   - dmesg and journalctl -k: "[  12.345] audit: type=1326 audit(...): ..." and
//     "... kernel: audit: type=1326 audit(...): ...";
//   - auditd's log: "type=SECCOMP msg=audit(...): ...", with or without the
//     enriched fields after the 0x1d separator;
//   - a netlink payload: "audit(...): auid=... pid=...".
//
// ok is false for a line that is not a seccomp record (not an error). The
// error is for a seccomp record that is malformed and says which field is
// wrong, or for a line longer than MaxLineBytes, which is not parsed.
func ParseLine(line string) (r Record, ok bool, err error) {
	if len(line) > MaxLineBytes {
		return Record{}, false, fmt.Errorf("line is longer than %d bytes, the most a seccomp record takes; not parsed", MaxLineBytes)
	}
	line = strings.TrimRight(line, "\r\n\x00")
	body, found := "", false
	if strings.HasPrefix(line, "audit(") {
		body, found = line[len("audit"):], true
	} else {
		for _, m := range recordMarkers {
			if i := strings.Index(line, m); i >= 0 {
				body, found = line[i+len(m)-1:], true
				break
			}
		}
	}
	if !found {
		return Record{}, false, nil
	}
	// auditd's enriched format appends the interpreted fields after 0x1d.
	if i := strings.IndexByte(body, 0x1d); i >= 0 {
		body = body[:i]
	}
	r, err = parseBody(body)
	if err != nil {
		return Record{}, false, fmt.Errorf("malformed seccomp record: %w", err)
	}
	return r, true, nil
}

// parseBody parses "(<sec>.<ms>:<serial>): key=value ...".
func parseBody(body string) (Record, error) {
	var r Record
	end := strings.Index(body, "):")
	if end < 0 {
		return r, fmt.Errorf("header audit%s has no \"):\" after audit(<seconds>.<milliseconds>:<serial>)", clip(body))
	}
	if err := parseHeader(body[1:end], &r); err != nil {
		return r, err
	}
	fields := splitFields(body[end+2:])
	var err error
	get := func(key string) (string, bool) {
		v, ok := fields[key]
		if !ok && err == nil {
			err = fmt.Errorf("field %s= is missing", key)
		}
		return v, ok
	}
	if v, ok := get("pid"); ok && err == nil {
		if r.PID, err = strconv.Atoi(v); err != nil || r.PID < 0 {
			err = fmt.Errorf("field pid=%q is not a process ID", clip(v))
		}
	}
	for _, f := range []struct {
		key string
		to  *string
	}{{"comm", &r.Comm}, {"exe", &r.Exe}} {
		if v, ok := fields[f.key]; ok && err == nil {
			*f.to, err = untrusted(f.key, v)
		}
	}
	var archID uint64
	if v, ok := get("arch"); ok && err == nil {
		if archID, err = strconv.ParseUint(v, 16, 32); err != nil {
			err = fmt.Errorf("field arch=%q is not a hexadecimal audit architecture such as c000003e", clip(v))
		}
	}
	if v, ok := get("syscall"); ok && err == nil {
		nr, perr := strconv.ParseInt(v, 10, 32)
		if perr != nil {
			err = fmt.Errorf("field syscall=%q is not a syscall number", clip(v))
		}
		r.SyscallNr = int(nr)
	}
	var code uint64
	if v, ok := get("code"); ok && err == nil {
		hexCode, has := strings.CutPrefix(v, "0x")
		if code, err = strconv.ParseUint(hexCode, 16, 32); err != nil || !has {
			err = fmt.Errorf("field code=%q is not a hexadecimal seccomp return value such as 0x7ffc0000", clip(v))
		}
	}
	if err != nil {
		return Record{}, err
	}
	r.Arch, r.Syscall = syscallName(uint32(archID), r.SyscallNr)
	r.Action = actionOf(uint32(code))
	if r.Action == ActionErrno {
		r.Errno = int(code & 0xffff)
	}
	return r, nil
}

// parseHeader parses "<sec>.<ms>:<serial>".
func parseHeader(h string, r *Record) error {
	bad := func() error {
		return fmt.Errorf("header audit(%s) is not audit(<seconds>.<milliseconds>:<serial>)", clip(h))
	}
	stamp, serial, ok := strings.Cut(h, ":")
	if !ok {
		return bad()
	}
	secs, frac, ok := strings.Cut(stamp, ".")
	if !ok || frac == "" || len(frac) > 9 {
		return bad()
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || sec < 0 {
		return bad()
	}
	nanos, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	if err != nil || nanos < 0 {
		return bad()
	}
	if r.Serial, err = strconv.ParseUint(serial, 10, 64); err != nil {
		return bad()
	}
	r.Time = time.Unix(sec, nanos).UTC()
	return nil
}

// splitFields splits the kernel's space-separated key=value fields. A value
// is either quoted (and holds no quote) or runs to the next space; words
// without "=", such as AppArmor's "(enforce)" after subj=, are skipped. The
// first occurrence of a key wins.
func splitFields(s string) map[string]string {
	fields := make(map[string]string, 16)
	for s != "" {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexByte(s, ' ')
		if eq < 0 || (sp >= 0 && sp < eq) {
			if sp < 0 {
				break
			}
			s = s[sp:]
			continue
		}
		key, rest := s[:eq], s[eq+1:]
		var value string
		if strings.HasPrefix(rest, `"`) {
			if q := strings.IndexByte(rest[1:], '"'); q >= 0 {
				value, s = rest[:q+2], rest[q+2:]
			} else {
				value, s = rest, ""
			}
		} else if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			value, s = rest[:sp], rest[sp:]
		} else {
			value, s = rest, ""
		}
		if _, dup := fields[key]; !dup {
			fields[key] = value
		}
	}
	return fields
}

// untrusted decodes a string the kernel wrote with audit_log_untrustedstring:
// quoted when it is plain, else unquoted upper-case hex of its bytes.
// "(null)" (no executable, as for a kernel thread) decodes to "".
func untrusted(key, v string) (string, error) {
	if v == "(null)" {
		return "", nil
	}
	if strings.HasPrefix(v, `"`) {
		if len(v) < 2 || !strings.HasSuffix(v, `"`) {
			return "", fmt.Errorf("field %s=%s has no closing quote", key, clip(v))
		}
		return v[1 : len(v)-1], nil
	}
	b, err := hex.DecodeString(v)
	if err != nil || v == "" {
		return "", fmt.Errorf("field %s=%s is neither a quoted string nor hex-encoded", key, clip(v))
	}
	return string(b), nil
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "..."
}
