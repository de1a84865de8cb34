package violations

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// forkMessage is a cn_proc event as the kernel sends it.
func forkMessage(what uint32, parentTgid, childPid, childTgid uint32) []byte {
	b := make([]byte, nlmsgHdrLen+cnMsgLen+forkEventLen)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint32(b[nlmsgHdrLen:], cnIdxProc)
	binary.NativeEndian.PutUint32(b[nlmsgHdrLen+4:], cnValProc)
	ev := nlmsgHdrLen + cnMsgLen
	binary.NativeEndian.PutUint32(b[ev:], what)
	binary.NativeEndian.PutUint32(b[ev+16:], parentTgid)
	binary.NativeEndian.PutUint32(b[ev+20:], parentTgid)
	binary.NativeEndian.PutUint32(b[ev+24:], childPid)
	binary.NativeEndian.PutUint32(b[ev+28:], childTgid)
	return b
}

func TestParseFork(t *testing.T) {
	tests := []struct {
		name          string
		msg           []byte
		parent, child int
		ok            bool
	}{
		{name: "a process forks", msg: forkMessage(procEventFork, 100, 200, 200), parent: 100, child: 200, ok: true},
		{name: "a thread is not a process", msg: forkMessage(procEventFork, 100, 201, 200)},
		{name: "exec", msg: forkMessage(0x2, 100, 200, 200)},
		{name: "exit", msg: forkMessage(0x80000000, 100, 200, 200)},
		{name: "short", msg: forkMessage(procEventFork, 100, 200, 200)[:40]},
		{name: "another connector", msg: func() []byte {
			b := forkMessage(procEventFork, 100, 200, 200)
			binary.NativeEndian.PutUint32(b[nlmsgHdrLen:], 7)
			return b
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent, child, ok := parseFork(tc.msg)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.parent, parent)
			assert.Equal(t, tc.child, child)
		})
	}
}

// TestForkTracker: a child that exits before its record is looked up is
// attributed to the container its parent ran in when it forked it; a
// host process's children are not; a grandchild whose parent exited too
// inherits the container from the parent's own fork; entries expire.
func TestForkTracker(t *testing.T) {
	const inPod = "1111111111111111111111111111111111111111111111111111111111111111"
	proc := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(proc, "stat"), []byte("btime 1796180000\n"), 0o644))
	for pid, cgroup := range map[int]string{10: "0::/" + inPod, 20: "0::/system.slice/sshd.service"} {
		dir := filepath.Join(proc, strconv.Itoa(pid))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup+"\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(strconv.Itoa(pid)+" (sh) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0"), 0o644))
	}
	ft := newForkTracker(proc)
	now := time.Unix(1796180100, 0)
	ft.Fork(10, 11, now) // sh in the container forks mkdir
	ft.Fork(20, 21, now) // sshd forks
	ft.Fork(11, 12, now) // the container's child, gone from /proc, forks too

	id, ok := ft.ContainerOf(11, now.Add(time.Second))
	assert.True(t, ok)
	assert.Equal(t, inPod, id)
	id, ok = ft.ContainerOf(12, now.Add(time.Second))
	assert.True(t, ok, "a grandchild of an exited child")
	assert.Equal(t, inPod, id)
	_, ok = ft.ContainerOf(21, now)
	assert.False(t, ok, "a host process's child")
	_, ok = ft.ContainerOf(11, now.Add(ForkTTL+time.Second))
	assert.False(t, ok, "expired")

	// A host process reuses the PID: the container is forgotten.
	ft.Fork(20, 11, now.Add(2*time.Second))
	_, ok = ft.ContainerOf(11, now.Add(3*time.Second))
	assert.False(t, ok)

	a := &Attributor{ProcRoot: proc, Forks: ft}
	ft.Fork(10, 13, time.Now())
	got := a.Attribute(Record{PID: 13, Time: now})
	assert.Equal(t, Attribution{Origin: OriginContainer, ContainerID: inPod}, got, "attributed although /proc/13 is gone")
	assert.Equal(t, OriginExited, a.Attribute(Record{PID: 14, Time: now}).Origin)

	ft.Expire(time.Now().Add(2 * ForkTTL))
	_, ok = ft.ContainerOf(13, time.Now())
	assert.False(t, ok)
}

// TestForkTrackerOnThisHost listens to this kernel's process events (root
// only) and sees this test fork.
func TestForkTrackerOnThisHost(t *testing.T) {
	ft, err := NewForkTracker("/proc")
	if err != nil {
		t.Skipf("the process events connector is not available here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ft.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		require.NoError(t, exec.Command("true").Run())
		ft.mu.Lock()
		n := ft.forks
		ft.mu.Unlock()
		if n > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no fork event within 10s")
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	require.NoError(t, <-done)
}
