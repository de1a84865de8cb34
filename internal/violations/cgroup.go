package violations

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	// ErrProcessGone is returned when the process exited before it was looked
	// up, or its PID now belongs to a process that started after the record.
	ErrProcessGone = errors.New("the process exited before it could be looked up")
	// ErrNotAContainer is returned for a process whose cgroup names no
	// container: a host process.
	ErrNotAContainer = errors.New("the process is not in a container's cgroup")
)

// maxCgroupFileBytes bounds what is read of /proc/<pid>/cgroup: a few hundred
// bytes per hierarchy on cgroup v1, one line on v2.
const maxCgroupFileBytes = 64 << 10

// ContainerOfPID reads <procRoot>/<pid>/cgroup and returns the ID (64 hex
// digits) of the container the process runs in: cgroup v1 and v2, containerd
// ("cri-containerd-<id>.scope", ".../kubepods/.../<id>"), CRI-O
// ("crio-<id>.scope"), docker ("docker-<id>.scope", "/docker/<id>").
// ErrProcessGone when the process has exited; ErrNotAContainer for a host
// process.
func ContainerOfPID(procRoot string, pid int) (string, error) {
	path := filepath.Join(procRoot, strconv.Itoa(pid), "cgroup")
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			return "", ErrProcessGone
		}
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCgroupFileBytes))
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return "", ErrProcessGone
		}
		return "", err
	}
	if id := containerIDInCgroups(data); id != "" {
		return id, nil
	}
	return "", ErrNotAContainer
}

// ContainerOfPIDAt is ContainerOfPID for a record written at the time at. A
// PID that the kernel gave to a new process since (its start time, from
// <procRoot>/<pid>/stat and the boot time in <procRoot>/stat, is after at)
// is ErrProcessGone: reading a saved log, the old PID may be reused.
func ContainerOfPIDAt(procRoot string, pid int, at time.Time) (string, error) {
	id, err := ContainerOfPID(procRoot, pid)
	if err != nil {
		return "", err
	}
	started, err := processStart(procRoot, pid)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return "", ErrProcessGone
	}
	// The start time is in clock ticks since boot: allow a second of
	// rounding (ticks, and btime in whole seconds).
	if err == nil && started.After(at.Add(time.Second)) {
		return "", ErrProcessGone
	}
	return id, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's start time: 100 on
// every architecture Kubernetes runs on.
const clockTicks = 100

// processStart is when a process started, from /proc.
func processStart(procRoot string, pid int) (time.Time, error) {
	stat, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return time.Time{}, err
	}
	// Fields after the command, which is in parentheses and may hold any
	// byte: state is field 3, starttime field 22.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return time.Time{}, fmt.Errorf("%s/%d/stat has no command in parentheses", procRoot, pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return time.Time{}, fmt.Errorf("%s/%d/stat has %d fields after the command, want 20 or more", procRoot, pid, len(fields))
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s/%d/stat: start time %q: %w", procRoot, pid, fields[19], err)
	}
	boot, err := bootTime(procRoot)
	if err != nil {
		return time.Time{}, err
	}
	return boot.Add(time.Duration(ticks) * time.Second / clockTicks), nil
}

// bootTime reads btime from <procRoot>/stat.
func bootTime(procRoot string) (time.Time, error) {
	f, err := os.Open(filepath.Join(procRoot, "stat"))
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("%s/stat: btime %q: %w", procRoot, v, err)
			}
			return time.Unix(secs, 0), nil
		}
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, err
	}
	return time.Time{}, fmt.Errorf("%s/stat has no btime line", procRoot)
}

// containerIDInCgroups finds a container ID in the lines of a
// /proc/<pid>/cgroup file ("hierarchy:controllers:path"): the deepest path
// segment that is, or wraps, 64 hex digits.
func containerIDInCgroups(data []byte) string {
	for line := range strings.SplitSeq(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		segments := strings.Split(parts[2], "/")
		for i := len(segments) - 1; i >= 0; i-- {
			if id := containerIDInSegment(segments[i]); id != "" {
				return id
			}
		}
	}
	return ""
}

// runtimePrefixes are the prefixes of systemd scope names of containers.
// CRI-O's conmon runs in "crio-conmon-<id>.scope": not the container.
var runtimePrefixes = []string{"cri-containerd-", "crio-", "docker-", "containerd-", "libpod-"}

func containerIDInSegment(seg string) string {
	seg = strings.TrimSuffix(seg, ".scope")
	if strings.HasPrefix(seg, "crio-conmon-") {
		return ""
	}
	for _, p := range runtimePrefixes {
		if rest, ok := strings.CutPrefix(seg, p); ok {
			seg = rest
			break
		}
	}
	if isContainerID(seg) {
		return seg
	}
	return ""
}

// isContainerID is true for 64 lower-case hex digits.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
