package violations

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary run seccompHelper instead of the tests.
const helperEnv = "VIOLATIONS_TEST_SECCOMP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(seccompHelper())
	}
	os.Exit(m.Run())
}

// seccompHelper loads a filter that logs getppid (SCMP_ACT_LOG) and refuses
// getpgid with EPERM, with SECCOMP_FILTER_FLAG_LOG so that the refusal is
// logged too, on every thread; then calls both once.
func seccompHelper() int {
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // A = seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_GETPPID, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_LOG},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_GETPGID, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "prctl(PR_SET_NO_NEW_PRIVS):", err)
		return 3
	}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC|unix.SECCOMP_FILTER_FLAG_LOG, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		fmt.Fprintln(os.Stderr, "seccomp(SECCOMP_SET_MODE_FILTER):", errno)
		return 3
	}
	unix.Getppid()
	if _, err := unix.Getpgid(0); !errors.Is(err, unix.EPERM) {
		fmt.Fprintln(os.Stderr, "getpgid under the filter: want EPERM, got", err)
		return 4
	}
	return 0
}

// runSeccompHelper runs seccompHelper in a child and returns its PID.
func runSeccompHelper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 3 {
		t.Skipf("the kernel refused the seccomp filter: %s", out)
	}
	require.NoError(t, err, "helper output: %s", out)
	return cmd.Process.Pid
}

// collector gathers records from a running source.
type collector struct {
	mu      sync.Mutex
	records []Record
}

func (c *collector) emit(r Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
}

// waitFor returns the records of pid once there are want of them, or what
// there is after timeout.
func (c *collector) waitFor(pid, want int, timeout time.Duration) []Record {
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		var mine []Record
		for _, r := range c.records {
			if r.PID == pid {
				mine = append(mine, r)
			}
		}
		c.mu.Unlock()
		if len(mine) >= want || time.Now().After(deadline) {
			return mine
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startSource(t *testing.T, src Source) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{}
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c.emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "%s source", src.Name())
		case <-time.After(5 * time.Second):
			t.Errorf("the %s source did not return within 5s of its context ending", src.Name())
		}
	})
	return c
}

// TestLiveSources loads a real seccomp filter in a child process and reads
// its records from the audit netlink multicast group and from /dev/kmsg.
func TestLiveSources(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	exe, err = filepath.EvalSymlinks(exe)
	require.NoError(t, err)
	comm := filepath.Base(exe)
	if len(comm) > 15 {
		comm = comm[:15]
	}
	check := func(t *testing.T, got []Record, pid int) {
		t.Helper()
		require.Len(t, got, 2, "records of pid %d", pid)
		byName := map[string]Record{}
		for _, r := range got {
			byName[r.Syscall] = r
		}
		logged, refused := byName["getppid"], byName["getpgid"]
		assert.Equal(t, ActionLog, logged.Action, "getppid's record: %+v", got)
		assert.Equal(t, ActionErrno, refused.Action, "getpgid's record: %+v", got)
		// The kernel logs the action without its data (seccomp_log gets
		// filter_ret & SECCOMP_RET_ACTION_FULL): the record has no errno.
		assert.Equal(t, 0, refused.Errno)
		for _, r := range got {
			assert.Equal(t, comm, r.Comm)
			assert.Equal(t, exe, r.Exe)
			assert.WithinDuration(t, time.Now(), r.Time, time.Minute)
		}
	}

	t.Run("netlink", func(t *testing.T) {
		src, err := NewNetlinkSource()
		if err != nil {
			t.Skipf("cannot read the audit netlink multicast group here: %v", err)
		}
		assert.True(t, src.Complete())
		c := startSource(t, src)
		pid := runSeccompHelper(t)
		check(t, c.waitFor(pid, 2, 5*time.Second), pid)
	})
	t.Run("kmsg", func(t *testing.T) {
		if _, err := os.Stat("/dev/kmsg"); err != nil {
			t.Skipf("no /dev/kmsg: %v", err)
		}
		src := NewKmsgSource("/dev/kmsg")
		assert.False(t, src.Complete())
		c := startSource(t, src)
		// The kernel prints audit records to the log only when no auditd
		// listens, and rate-limits them: other processes' records may use up
		// the burst, so try again after the limit's 5 s interval.
		var got []Record
		var pid int
		for attempt := 0; attempt < 3 && len(got) < 2; attempt++ {
			if attempt > 0 {
				time.Sleep(5 * time.Second)
			}
			pid = runSeccompHelper(t)
			got = c.waitFor(pid, 2, 3*time.Second)
		}
		if len(got) == 0 && src.(Counted).Lost() == 0 && auditdRuns() {
			t.Skip("auditd runs: the kernel sends audit records to it, not to the kernel log")
		}
		check(t, got, pid)
	})
}

// auditdRuns reports whether an auditd process exists.
func auditdRuns() bool {
	matches, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil && string(b) == "auditd\n" {
			return true
		}
	}
	return false
}
