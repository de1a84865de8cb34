package violations

// Fork tracking: a process that makes a logged syscall and exits at once (a
// shell's mkdir refused by its profile, a recorded container's short-lived
// child) is gone before its record reaches user space, and with it
// /proc/<pid>/cgroup. The kernel's process events connector (cn_proc)
// announces every fork while the parent still runs: the tracker reads the
// parent's container then, and keeps child -> container for a while, so
// that a record of a process that exited is still attributed. Listening
// needs CAP_NET_ADMIN and the host's network namespace.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Process events connector constants (linux/connector.h, linux/cn_proc.h).
const (
	cnIdxProc        = 1
	cnValProc        = 1
	procCnMcastListn = 1
	procEventFork    = 0x00000001

	nlmsgHdrLen = 16
	cnMsgLen    = 20
	// proc_event: what u32, cpu u32, timestamp_ns u64, then fork's
	// parent_pid, parent_tgid, child_pid, child_tgid.
	forkEventLen = 16 + 16
)

// ForkTTL is how long a child's container is remembered.
const ForkTTL = time.Minute

// MaxForks bounds the children remembered; beyond it the oldest half is
// forgotten.
const MaxForks = 1 << 16

type forkEntry struct {
	containerID string
	at          time.Time
}

// ForkTracker remembers the container of recently forked processes. Safe
// for concurrent use.
type ForkTracker struct {
	ProcRoot string

	mu       sync.Mutex
	children map[int]forkEntry
	parents  map[int]forkEntry // parent tgid -> its container, looked up within parentTTL
	forks    uint64
	lost     uint64 // ENOBUFS: fork events the socket dropped
	fd       int
}

// parentTTL bounds how long a parent's lookup is reused for its next forks.
const parentTTL = time.Second

// NewForkTracker opens the process events connector.
func NewForkTracker(procRoot string) (*ForkTracker, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("open a NETLINK_CONNECTOR socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind the process events connector: %w", err)
	}
	if err := unix.Sendto(fd, listenMessage(), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("listen to process events: %w; it needs CAP_NET_ADMIN and the host's network namespace", err)
		}
		return nil, fmt.Errorf("listen to process events: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, netlinkRecvBytes)
	tv := unix.NsecToTimeval(netlinkIdle.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	t := newForkTracker(procRoot)
	t.fd = fd
	return t, nil
}

func newForkTracker(procRoot string) *ForkTracker {
	return &ForkTracker{ProcRoot: procRoot, children: map[int]forkEntry{}, parents: map[int]forkEntry{}, fd: -1}
}

// listenMessage is PROC_CN_MCAST_LISTEN in a cn_msg in a nlmsghdr.
func listenMessage() []byte {
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint32(msg[nlmsgHdrLen:], cnIdxProc)
	binary.NativeEndian.PutUint32(msg[nlmsgHdrLen+4:], cnValProc)
	binary.NativeEndian.PutUint16(msg[nlmsgHdrLen+16:], 4)
	binary.NativeEndian.PutUint32(msg[nlmsgHdrLen+cnMsgLen:], procCnMcastListn)
	return msg
}

// parseFork returns the parent and child process (tgid) of a fork event
// message; ok is false for any other event, a new thread, or a short
// message.
func parseFork(b []byte) (parent, child int, ok bool) {
	const ev = nlmsgHdrLen + cnMsgLen
	if len(b) < ev+forkEventLen {
		return 0, 0, false
	}
	if binary.NativeEndian.Uint32(b[nlmsgHdrLen:]) != cnIdxProc || binary.NativeEndian.Uint32(b[ev:]) != procEventFork {
		return 0, 0, false
	}
	parentTgid := binary.NativeEndian.Uint32(b[ev+20:])
	childPid := binary.NativeEndian.Uint32(b[ev+24:])
	childTgid := binary.NativeEndian.Uint32(b[ev+28:])
	if childPid != childTgid { // a thread: its process is already known
		return 0, 0, false
	}
	return int(parentTgid), int(childTgid), true
}

// Run reads fork events until ctx ends.
func (t *ForkTracker) Run(ctx context.Context) error {
	defer unix.Close(t.fd)
	buf := make([]byte, 4096)
	for ctx.Err() == nil {
		n, _, err := unix.Recvfrom(t.fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			t.mu.Lock()
			t.lost++
			t.mu.Unlock()
			continue
		case err != nil:
			return fmt.Errorf("reading process events: %w", err)
		}
		if parent, child, ok := parseFork(buf[:n]); ok {
			t.Fork(parent, child, time.Now())
		}
	}
	return nil
}

// Lost is how many times the socket dropped fork events (ENOBUFS): their
// children's records may then be counted as process-exited.
func (t *ForkTracker) Lost() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lost
}

// Fork records that parent forked child at now: the child is in the
// parent's container (read now, while the parent runs).
func (t *ForkTracker) Fork(parent, child int, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forks++
	p, ok := t.parents[parent]
	if !ok || now.Sub(p.at) > parentTTL {
		id, err := ContainerOfPID(t.ProcRoot, parent)
		if err != nil {
			// The parent is gone too, or on the host: its own fork may
			// say where it was.
			if c, ok := t.children[parent]; ok {
				id = c.containerID
			} else {
				id = ""
			}
		}
		p = forkEntry{containerID: id, at: now}
		if len(t.parents) >= MaxForks {
			clear(t.parents)
		}
		t.parents[parent] = p
	}
	if p.containerID == "" {
		delete(t.children, child) // a host process: forget an earlier holder of the PID
		return
	}
	if len(t.children) >= MaxForks {
		t.expireLocked(now, true)
	}
	t.children[child] = forkEntry{containerID: p.containerID, at: now}
}

// ContainerOf returns the container a process forked within ForkTTL
// before now was born into.
func (t *ForkTracker) ContainerOf(pid int, now time.Time) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.children[pid]
	if !ok || now.Sub(e.at) > ForkTTL {
		return "", false
	}
	return e.containerID, true
}

// Expire forgets children older than ForkTTL.
func (t *ForkTracker) Expire(now time.Time) {
	t.mu.Lock()
	t.expireLocked(now, false)
	t.mu.Unlock()
}

func (t *ForkTracker) expireLocked(now time.Time, half bool) {
	ttl := ForkTTL
	if half {
		ttl /= 2
	}
	for pid, e := range t.children {
		if now.Sub(e.at) > ttl {
			delete(t.children, pid)
		}
	}
	for pid, e := range t.parents {
		if now.Sub(e.at) > parentTTL {
			delete(t.parents, pid)
		}
	}
	if half && len(t.children) >= MaxForks {
		clear(t.children)
	}
}
